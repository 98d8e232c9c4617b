import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { explain, type ExplainQuery } from '../../../src/proxy/explain.js';

const loaded = loadConfig(new URL('../../../config/keygate.yaml', import.meta.url).pathname, { serviceTokens: false });
if (!loaded.ok) throw new Error('the example config must load');
const snapshot = loaded.snapshot;

const DEPLOY = 'ZzPjRE9uyI9s'; // joe, inherit, deny compute DELETE /**
const base: ExplainQuery = {
  keyId: DEPLOY,
  method: 'GET',
  path: '/compute/v2/p1/servers',
  host: undefined,
  region: snapshot.region,
  service: undefined,
  clientIp: '127.0.0.1',
  now: Date.parse('2026-12-01T00:00:00Z'),
};

describe('explain', () => {
  it('answers as the proxy decides, naming the rule', () => {
    expect(explain(snapshot, { ...base, method: 'DELETE' })).toMatchObject({
      decision: 'deny',
      reason: 'key_deny_rule',
      step: 6,
      rule: { text: 'compute DELETE /**' },
    });
    expect(explain(snapshot, base)).toMatchObject({ decision: 'allow', reason: 'allow', service: 'compute', path: '/v2/p1/servers' });
  });

  it.each([
    { desc: 'an unknown key', query: { keyId: 'NoSuchKey123' }, problem: 'unknown_key' },
    { desc: 'an unknown service', query: { service: 'storage' }, problem: 'unknown_service' },
    { desc: 'a service path that is not absolute', query: { service: 'compute', path: 'v2/x' }, problem: 'relative_path' },
  ])('cannot answer for $desc: $problem', ({ query, problem }) => {
    expect(explain(snapshot, { ...base, ...query })).toMatchObject({ problem });
  });
});
