import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../../src/observability/accessLog.js';
import { RequestRecord } from '../../../src/observability/requestRecord.js';

const NOW = Date.parse('2026-06-01T12:00:00.123Z');

function allowed(): RequestRecord {
  const r = new RequestRecord('proxy', 'req-1', 'GET', '/compute/v2/servers?api_key=leaked&x=1', '10.0.0.7');
  Object.assign(r, {
    host: 'api.example.com',
    service: 'compute',
    keyId: '7Hq2pXw9LmZ4',
    keyName: 'monitoring',
    user: 'joe',
    decisionMs: 0.0421234,
    upstreamMs: 12.3456789,
    upstreamStatus: 200,
    totalMs: 12.5,
  });
  return r;
}

function lineOf(r: RequestRecord): Record<string, unknown> {
  const text = new AccessLog({ writeBatched: () => undefined }, 42, 'host-a').line(r, NOW);
  expect(text.endsWith('}\n')).toBe(true);
  expect(text.indexOf('\n')).toBe(text.length - 1);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('AccessLog', () => {
  it('writes the full line of an allowed, proxied request, fields in pino order', () => {
    const line = lineOf(allowed());
    expect(line).toEqual({
      level: 'info',
      time: '2026-06-01T12:00:00.123Z',
      pid: 42,
      hostname: 'host-a',
      request_id: 'req-1',
      mode: 'proxy',
      method: 'GET',
      path: '/compute/v2/servers',
      host: 'api.example.com',
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
      msg: 'request',
    });
    expect(Object.keys(line)).toEqual([
      'level',
      'time',
      'pid',
      'hostname',
      'request_id',
      'mode',
      'method',
      'path',
      'host',
      'client_ip',
      'service',
      'key_id',
      'key_name',
      'user',
      'decision',
      'reason',
      'status',
      'decision_ms',
      'upstream_ms',
      'total_ms',
      'msg',
    ]);
  });

  it('keeps every field, null when unknown, for a denial before any key was found', () => {
    const r = new RequestRecord('check', 'req-2', 'POST', '/nowhere', '::1');
    Object.assign(r, { decision: 'deny', reason: 'no_route', status: 404, totalMs: 0.2, upstreamMs: undefined });
    const line = lineOf(r);
    expect(line).toMatchObject({ host: null, service: null, key_id: null, key_name: null, user: null, upstream_ms: null, mode: 'check' });
    expect(Object.keys(line)).toHaveLength(21);
  });

  it('logs the presented key id of an unverified key, the precise reason, and the detail', () => {
    const r = allowed();
    Object.assign(r, {
      keyName: undefined,
      user: undefined,
      decision: 'deny',
      reason: 'bad_secret',
      status: 401,
      detail: 'the secret does not verify',
      upstreamMs: undefined,
    });
    expect(lineOf(r)).toMatchObject({
      key_id: '7Hq2pXw9LmZ4',
      key_name: null,
      user: null,
      reason: 'bad_secret',
      status: 401,
      detail: 'the secret does not verify',
    });
  });

  it('adds the upstream error code of a failed upstream', () => {
    const r = allowed();
    Object.assign(r, { reason: 'upstream_failed', status: 502, upstreamError: 'connect', upstreamErrorCode: 'ECONNREFUSED' });
    expect(lineOf(r)).toMatchObject({ status: 502, upstream_error: 'ECONNREFUSED' });
  });

  it('adds what the shadow candidate would have answered, only where it disagrees', () => {
    const r = allowed();
    r.shadow = { live: 'allow', decision: 'deny', reason: 'guardrail', rule: 'guardrail rule 1: compute GET /v2/**' };
    const line = lineOf(r);
    expect(line).toMatchObject({
      shadow_decision: 'deny',
      shadow_reason: 'guardrail',
      shadow_rule: 'guardrail rule 1: compute GET /v2/**',
    });
    expect(Object.keys(line).slice(-4)).toEqual(['shadow_decision', 'shadow_reason', 'shadow_rule', 'msg']);
    r.shadow = { live: 'allow', decision: 'deny', reason: 'key_expired', rule: undefined };
    expect(lineOf(r)).toMatchObject({ shadow_reason: 'key_expired', shadow_rule: null });
    expect(Object.keys(lineOf(allowed())).some((k) => k.startsWith('shadow'))).toBe(false);
  });

  it('bounds a method taken from a check header and escapes what a client chose', () => {
    const r = new RequestRecord('check', 'req-3', 'X'.repeat(1000), '/a"b\\c\n\u0001é/kg_ABCDEFGHIJKL_secretsecret', '1.2.3.4');
    const line = lineOf(r);
    expect(line.method).toHaveLength(32);
    expect(line.path).toBe('/a"b\\c\n\u0001é/kg_[REDACTED]');
  });

  it('writes every string field as JSON.stringify would, whatever it holds', () => {
    // The line quotes plain ASCII itself and leaves everything else to JSON.stringify.
    const text = fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => !s.includes('kg_'));
    fc.assert(
      fc.property(text, text, text, (id, host, name) => {
        const r = allowed();
        Object.assign(r, { requestId: id, host, keyName: name, user: name });
        const out = new AccessLog({ writeBatched: () => undefined }, 42, 'host-a').line(r, NOW);
        expect(out).toContain(`"request_id":${JSON.stringify(id)},`);
        expect(out).toContain(`"host":${JSON.stringify(host)},`);
        expect(out).toContain(`"key_name":${JSON.stringify(name)},"user":${JSON.stringify(name)},`);
        expect(JSON.parse(out)).toMatchObject({ request_id: id, host, key_name: name, user: name });
      }),
      { numRuns: 300 },
    );
  });

  it('writes through the batched path of its sink', () => {
    const lines: string[] = [];
    new AccessLog({ writeBatched: (l) => void lines.push(l) }).write(allowed());
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ request_id: 'req-1', pid: process.pid });
  });
});

describe('AccessLog timings', () => {
  it('prints milliseconds as the number rounded to µs would print', () => {
    const log = new AccessLog({ writeBatched: () => undefined }, 42, 'host-a');
    const ms = fc.oneof(
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.integer({ min: 0, max: 100_000 }).map((us) => us / 1000),
    );
    fc.assert(
      fc.property(ms, ms, (decisionMs, totalMs) => {
        const r = allowed();
        Object.assign(r, { decisionMs, totalMs });
        const text = log.line(r, NOW);
        expect(/"decision_ms":([^,]+)/.exec(text)?.[1]).toBe(String(Math.round(decisionMs * 1000) / 1000));
        expect(/"total_ms":([^,]+)/.exec(text)?.[1]).toBe(String(Math.round(totalMs * 1000) / 1000));
      }),
      { numRuns: 3000 },
    );
  });
});
