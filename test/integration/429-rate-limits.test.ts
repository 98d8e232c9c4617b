import { describe, expect, it } from 'vitest';
import { hashSlow } from '../../src/auth/hash.js';
import type { KeyVerifier } from '../../src/auth/verifier.js';
import { withRateLimiting } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend, type HttpResult } from '../helpers/http.js';
import { waitFor } from '../helpers/keygate.js';
import { keyEntry, newKey, withWrongSecret } from '../helpers/keys.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

/**
 * Rate limits through the real proxy and decision API (memory backend). Buckets refill
 * at 1/h, so a test's counts never depend on timing; each test uses its own keys (and
 * its own client address, through X-Forwarded-For from a trusted 127.0.0.1).
 */
const k = {
  tiny: newKey(), // own limit: burst 2
  shareA: newKey(), // user carol: burst 3, shared
  shareB: newKey(),
  denied: newKey(), // own limit burst 2; restricted to compute reads
  scoped: newKey(), // user dave: burst 1, compute only
  check: newKey(), // own limit burst 2, used on the decision API and the proxy
  loose: newKey(), // own limit looser than its user's: capped
  reload: newKey(), // own limit `reloadable`
  right: newKey(), // a good key for the failed-auth tests
};
const legacySecret = 'correct-horse-battery';
const legacyHash = await hashSlow(legacySecret, 'scrypt', { N: 1024 });

const POLICY = `roles:
  reader:
    - { service: "*", method: read, path: "/**" }
  all:
    - { service: "*", path: "/**" }
rateLimits:
  tiny: { rate: 1/h, burst: 2 }
  team: { rate: 1/h, burst: 3 }
  compute-only: { rate: 1/h, burst: 1, service: compute }
  roomy: { rate: 10/h, burst: 50 }
  reloadable: { rate: 1/h, burst: 2 }
users:
  bob: { roles: [all] }
  carol: { roles: [all], rateLimit: team }
  dave: { roles: [all], rateLimit: compute-only }
  erin: { roles: [all], rateLimit: tiny }
`;

function keysFile(): string {
  return `keys:
${keyEntry(k.tiny, 'bob', 'tiny', ['scope: inherit', 'rateLimit: tiny'])}
${keyEntry(k.shareA, 'carol', 'a', ['scope: inherit'])}
${keyEntry(k.shareB, 'carol', 'b', ['scope: inherit'])}
${keyEntry(k.denied, 'bob', 'denied', ['rateLimit: tiny', 'allow:', '  - { service: compute, method: read, path: "/**" }'])}
${keyEntry(k.scoped, 'dave', 'scoped', ['scope: inherit'])}
${keyEntry(k.check, 'bob', 'check', ['scope: inherit', 'rateLimit: tiny'])}
${keyEntry(k.loose, 'erin', 'loose', ['scope: inherit', 'rateLimit: roomy'])}
${keyEntry(k.reload, 'bob', 'reload', ['scope: inherit', 'rateLimit: reloadable'])}
${keyEntry(k.right, 'bob', 'right', ['scope: inherit'])}
  - id: LEGACY000001
    user: bob
    name: legacy
    hash: "${legacyHash}"
    scope: inherit
    legacy: true
`;
}

const fx = useKeygate({
  edit: (main) =>
    withRateLimiting(main.replace('listen:\n', 'listen:\n  trustedProxies: [127.0.0.1/32]\n'), '  failedAuth: { rate: 1/h, burst: 3 }'),
  prepare: (cfg) => {
    cfg.write('policy.yaml', POLICY);
    cfg.write('keys.yaml', keysFile());
  },
});

let address = 0;
/** A client address of its own for each test, so failed-auth counts never mix. */
const nextClient = (): string => `192.0.2.${++address}`;

function get(key: string, path = '/compute/v2/p1/servers/1', client = '192.0.2.200', method = 'GET'): Promise<HttpResult> {
  return httpSend(`${fx.kg.url()}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': client } });
}

function problem(r: HttpResult): { reason: string; status: number } {
  expect(r.headers['content-type']).toBe('application/problem+json');
  return JSON.parse(r.body) as { reason: string; status: number };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${fx.kg.url('admin')}/metrics`)).text();
  return valueOf(parseExposition(text), name, labels) ?? 0;
}

describe('429: rate limits', () => {
  it("refuses once a key's own bucket is empty, with Retry-After and the RateLimit fields, and never forwards it", async () => {
    const before = fx.upstream.seen.length;
    const first = await get(k.tiny.key);
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"key.tiny";q=2;w=7200');
    expect(first.headers.ratelimit).toMatch(/^"key\.tiny";r=1;t=\d+$/);
    expect((await get(k.tiny.key)).headers.ratelimit).toMatch(/^"key\.tiny";r=0;t=\d+$/);
    const refused = await get(k.tiny.key);
    expect(refused.status).toBe(429);
    expect(problem(refused).reason).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3500);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600);
    expect(refused.headers['ratelimit-policy']).toBe('"key.tiny";q=2;w=7200');
    expect(refused.headers.ratelimit).toMatch(/^"key\.tiny";r=0;t=\d+$/);
    expect(fx.upstream.seen.length - before).toBe(2);
    expect(await metric('keygate_rate_limited_total', { service: 'compute', scope: 'key' })).toBeGreaterThanOrEqual(1);
    const line = fx.kg.logs().find((l) => l.reason === 'rate_limited' && l.key_id === k.tiny.id);
    expect(line?.status).toBe(429);
    expect(String(line?.detail)).toContain('key rate limit "tiny"');
  });

  it("makes all keys of a user share the user's bucket", async () => {
    expect((await get(k.shareA.key)).status).toBe(200);
    expect((await get(k.shareA.key)).status).toBe(200);
    const third = await get(k.shareB.key);
    expect(third.status).toBe(200);
    expect(third.headers.ratelimit).toMatch(/^"user\.team";r=0;/);
    expect((await get(k.shareB.key)).status).toBe(429);
    expect((await get(k.shareA.key)).status).toBe(429);
    expect(await metric('keygate_rate_limited_total', { service: 'compute', scope: 'user' })).toBeGreaterThanOrEqual(2);
  });

  it('takes no quota from a denied request (authn and authz come first)', async () => {
    for (let i = 0; i < 4; i++) expect((await get(k.denied.key, '/compute/v2/p1/servers/1', '192.0.2.200', 'DELETE')).status).toBe(403);
    expect((await get(k.denied.key)).status).toBe(200);
    expect((await get(k.denied.key)).status).toBe(200);
    expect((await get(k.denied.key)).status).toBe(429);
  });

  it('counts a service-scoped limit only on its service', async () => {
    expect((await get(k.scoped.key)).status).toBe(200);
    expect((await get(k.scoped.key)).status).toBe(429);
    const other = await get(k.scoped.key, '/identity/v3/users');
    expect(other.status).toBe(200);
    expect(other.headers['ratelimit-policy']).toBeUndefined();
  });

  it("caps a key limit looser than its user's to the user's", async () => {
    const r = await get(k.loose.key);
    expect(r.headers['ratelimit-policy']).toBe('"user.tiny";q=2;w=7200, "key.roomy";q=2;w=7200');
  });

  it('applies the same buckets on the decision API as on the proxy (one place decides)', async () => {
    const check = (): Promise<HttpResult> =>
      httpSend(`${fx.kg.url('check')}/`, {
        headers: { authorization: `Bearer ${k.check.key}`, 'x-original-uri': '/compute/v2/p1/servers/1', 'x-original-method': 'GET' },
      });
    const allowed = await check();
    expect(allowed.status).toBe(200);
    expect(allowed.headers.ratelimit).toMatch(/^"key\.tiny";r=1;/);
    expect((await get(k.check.key)).status).toBe(200);
    const refused = await check();
    expect(refused.status).toBe(429);
    expect(problem(refused).reason).toBe('rate_limited');
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('refuses an address after too many failed authentications, before any hashing, and only that address', async () => {
    const verifier = (fx.kg.app as unknown as { verifier: KeyVerifier }).verifier;
    const attacker = nextClient();
    const runsBefore = verifier.stats().kdfRuns;
    const wrong = (i: number): Promise<HttpResult> =>
      httpSend(`${fx.kg.url()}/compute/v2/p1/servers/1`, {
        headers: { 'x-api-key': `wrong-secret-number-${i}`, 'x-forwarded-for': attacker },
      });
    for (let i = 0; i < 3; i++) expect((await wrong(i)).status).toBe(401);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => wrong(100 + i)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(429));
    expect(problem(results[0]).reason).toBe('rate_limited');
    expect(Number(results[0].headers['retry-after'])).toBeGreaterThan(1000);
    expect(results[0].headers.ratelimit).toMatch(/^"failed-auth";r=0;t=\d+$/);
    expect(verifier.stats().kdfRuns - runsBefore).toBe(3);
    // A right key from the blocked address waits too (it cannot be told apart before hashing)…
    expect((await get(k.right.key, '/compute/v2/p1/servers/1', attacker)).status).toBe(429);
    // …while other addresses are untouched, and the legacy key still works for them.
    expect((await get(k.right.key, '/compute/v2/p1/servers/1', nextClient())).status).toBe(200);
    const legacy = await httpSend(`${fx.kg.url()}/compute/v2/p1/servers/1`, {
      headers: { 'x-api-key': legacySecret, 'x-forwarded-for': nextClient() },
    });
    expect(legacy.status).toBe(200);
    expect(await metric('keygate_rate_limited_total', { service: 'compute', scope: 'address' })).toBeGreaterThanOrEqual(20);
  });

  it('counts wrong secrets of a known key per address too', async () => {
    const client = nextClient();
    for (let i = 0; i < 3; i++) expect((await get(withWrongSecret(k.right), undefined, client)).status).toBe(401);
    expect((await get(withWrongSecret(k.right), undefined, client)).status).toBe(429);
  });

  it('applies a reloaded limit at once and keeps the state of unchanged ones', async () => {
    expect((await get(k.reload.key)).status).toBe(200);
    expect((await get(k.reload.key)).status).toBe(200);
    expect((await get(k.reload.key)).status).toBe(429);
    expect((await get(k.tiny.key)).status).toBe(429); // emptied by the first test
    const app = fx.kg.app;
    const generation = app.snapshot().generation;
    fx.cfg.write('policy.yaml', POLICY.replace('reloadable: { rate: 1/h, burst: 2 }', 'reloadable: { rate: 1/h, burst: 4 }'));
    await waitFor(
      () => app.snapshot().generation > generation || undefined,
      10_000,
      () => 'the policy was not reloaded',
    );
    const after = await get(k.reload.key);
    expect(after.status).toBe(200);
    expect(after.headers['ratelimit-policy']).toBe('"key.reloadable";q=4;w=14400');
    expect((await get(k.tiny.key)).status).toBe(429); // `tiny` did not change: its bucket is still empty
  });
});
