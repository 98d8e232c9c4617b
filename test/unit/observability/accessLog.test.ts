import { describe, expect, it } from 'vitest';
import { accessLogEntry, type AccessInput } from '../../../src/observability/accessLog.js';

const base: AccessInput = {
  requestId: 'req-1',
  mode: 'proxy',
  method: 'GET',
  target: '/compute/v2/servers?api_key=leaked&x=1',
  clientIp: '10.0.0.7',
  service: 'compute',
  key: { id: '7Hq2pXw9LmZ4', name: 'monitoring', user: 'joe' },
  decision: 'allow',
  reason: 'allow',
  status: 200,
  decisionMs: 0.0421234,
  upstreamMs: 12.3456789,
  totalMs: 12.5,
};

describe('accessLogEntry', () => {
  it('builds the full record of an allowed, proxied request', () => {
    expect(accessLogEntry(base)).toEqual({
      request_id: 'req-1',
      mode: 'proxy',
      method: 'GET',
      path: '/compute/v2/servers',
      client_ip: '10.0.0.7',
      service: 'compute',
      key_id: '7Hq2pXw9LmZ4',
      key_name: 'monitoring',
      user: 'joe',
      decision: 'allow',
      reason: 'allow',
      status: 200,
      decision_ms: 0.042,
      upstream_ms: 12.346,
      total_ms: 12.5,
    });
  });

  it('keeps every field, null when unknown, for a denial before any key was found', () => {
    const entry = accessLogEntry({
      requestId: 'req-2', mode: 'check', method: 'POST', target: '/nowhere', clientIp: '::1',
      decision: 'deny', reason: 'no_route', status: 404, totalMs: 0.2,
    });
    expect(entry).toMatchObject({ service: null, key_id: null, key_name: null, user: null, decision_ms: null, upstream_ms: null, mode: 'check' });
    expect(Object.keys(entry)).toHaveLength(15);
  });

  it('logs the presented key id of an unverified key, and the precise reason', () => {
    const entry = accessLogEntry({ ...base, key: undefined, keyId: 'AAAAAAAAAAAA', decision: 'deny', reason: 'bad_secret', status: 401, upstreamMs: undefined });
    expect(entry).toMatchObject({ key_id: 'AAAAAAAAAAAA', key_name: null, user: null, reason: 'bad_secret', status: 401 });
  });

  it('bounds a method taken from a check header', () => {
    expect(accessLogEntry({ ...base, method: 'X'.repeat(1000) }).method).toHaveLength(32);
  });
});
