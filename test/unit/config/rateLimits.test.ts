import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type LoadResult } from '../../../src/config/load.js';
import { KEYS, MAIN, POLICY, edit, writeFixture, type Fixture } from './fixtures.js';

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function load(files: Record<string, string>): LoadResult {
  fixture = writeFixture(files);
  return loadConfig(fixture.mainFile, { env: {} });
}

const LIMITS = `rateLimits:
  standard: { rate: 100/s, burst: 200 }
  slow: { rate: 20/m }
  compute: { rate: 5/s, service: compute }
`;
const policy = (userExtra: string): string => LIMITS + edit(POLICY, '    expires: 2030-06-30T00:00:00Z\n', `    expires: 2030-06-30T00:00:00Z\n${userExtra}`);
const keys = (keyExtra: string): string => edit(KEYS, '    scope: restricted\n', `    scope: restricted\n${keyExtra}`);

/** "line:col message" of each issue. */
const issues = (list: readonly { line: number; col: number; message: string }[]): string[] => list.map((i) => `${i.line}:${i.col} ${i.message}`);

describe('rate limits in the config', () => {
  it('compiles named limits, a user\'s and a key\'s, with the rate\'s count as the default burst', () => {
    const r = load({ 'policy.yaml': policy('    rateLimit: [standard, compute]\n'), 'keys.yaml': keys('    rateLimit: slow\n') });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const s = r.snapshot;
    expect(s.rateLimits.named.get('slow')).toMatchObject({ perSecond: 20 / 60, burst: 20, rateText: '20/m' });
    expect(s.users.get('joe')?.rateLimits?.map((l) => l.name)).toEqual(['standard', 'compute']);
    expect(s.rateLimits.byKey.get('AAAAAAAAAAAA')?.map((l) => l.name)).toEqual(['slow']);
    expect(s.rateLimits).toMatchObject({ backend: 'memory', headers: true, failedAuth: { burst: 20, rateText: '20/m' } });
    expect(r.warnings).toEqual([]);
  });

  it('rejects unknown names, malformed rates and bursts, and unknown services, each where it is written', () => {
    const bad = `rateLimits:
  a: { rate: fast }
  b: { rate: 10/s, burst: 0 }
  c: { rate: 10/day }
  d: { rate: 1/s, service: nowhere }
  e: { rate: 1/s, per: 2 }
`;
    const r = load({ 'policy.yaml': bad + edit(POLICY, '    expires: 2030-06-30T00:00:00Z\n', '    rateLimit: nope\n'), 'keys.yaml': keys('    rateLimit: [a-missing]\n') });
    expect(r.ok).toBe(false);
    const found = r.ok ? [] : issues(r.errors);
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/^2:\d+ rate limit a: rate "fast" is not a rate/),
      expect.stringMatching(/^3:\d+ rate limit b: burst "0" must be a whole number/),
      expect.stringMatching(/^4:\d+ rate limit c: rate "10\/day" is not a rate/),
      expect.stringMatching(/^5:\d+ rate limit d: unknown service "nowhere"/),
      expect.stringMatching(/^6:\d+ unknown field "per" in rate limit e/),
      expect.stringMatching(/user joe: unknown rate limit "nope"/),
    ]));
  });

  it('rejects a key naming an unknown limit, at the key', () => {
    const r = load({ 'policy.yaml': policy(''), 'keys.yaml': keys('    rateLimit: missing\n') });
    expect(r.ok ? [] : issues(r.errors)).toEqual([expect.stringMatching(/^2:5 key AAAAAAAAAAAA: unknown rate limit "missing" \(defined: standard, slow, compute\)/)]);
  });

  it('warns about a key limit looser than its user\'s and caps it to the user\'s rate and burst', () => {
    const r = load({ 'policy.yaml': policy('    rateLimit: slow\n'), 'keys.yaml': keys('    rateLimit: standard\n') });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(issues(r.warnings)).toEqual([expect.stringMatching(/^2:5 key AAAAAAAAAAAA: rate limit "standard" \(100\/s, burst 200\) is looser than user joe's "slow" \(20\/m, burst 20\); capped to 20\/m, burst 20/)]);
    expect(r.snapshot.rateLimits.byKey.get('AAAAAAAAAAAA')).toEqual([expect.objectContaining({ name: 'standard', perSecond: 20 / 60, burst: 20 })]);
  });

  it('does not cap against a user limit of another service', () => {
    const r = load({ 'policy.yaml': policy('    rateLimit: compute\n'), 'keys.yaml': keys('    rateLimit: standard\n') });
    expect(r.ok && r.warnings).toEqual([]);
  });

  it('reads rateLimiting: redis settings, headers off, failedAuth off; rejects a bad backend', () => {
    const main = `${MAIN}rateLimiting:\n  backend: redis\n  headers: false\n  failedAuth: off\n  redis: { url: "redis://127.0.0.1:6379/0", timeout: 20ms, onError: failClosed }\n`;
    const r = load({ 'keygate.yaml': main });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.snapshot.rateLimits).toMatchObject({ backend: 'redis', headers: false, redis: { url: 'redis://127.0.0.1:6379/0', prefix: 'keygate:', timeout: 20, onError: 'failClosed' } });
    expect(r.snapshot.rateLimits.failedAuth).toBeUndefined();
    const bad = load({ 'keygate.yaml': `${MAIN}rateLimiting:\n  backend: etcd\n  redis: { url: "http://x", onError: maybe }\n` });
    expect(bad.ok ? [] : bad.errors.map((e) => e.message)).toEqual([
      'rateLimiting.backend must be "memory" or "redis"',
      'rateLimiting.redis.url must be a redis:// or rediss:// URL',
      'rateLimiting.redis.onError must be "failOpen" or "failClosed"',
    ]);
  });
});
