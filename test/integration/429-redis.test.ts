import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempConfig, withRateLimiting, type TempConfig } from '../helpers/config.js';
import { httpSend } from '../helpers/http.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { parseExposition, valueOf } from '../helpers/promText.js';
import { findRedisServer, startRedis, type TestRedis } from '../helpers/redis.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * The Redis backend with a real redis-server (from Debian): keygates sharing one Redis
 * enforce one limit together; a dead Redis means per-process limits (failOpen) or
 * refusals (failClosed); a Redis that comes back is used again without a restart.
 */
const redisServer = findRedisServer();
const skip = typeof redisServer !== 'string';

const shared = newKey(); // own limit `four`: 4 per hour
const userKeys = [newKey(), newKey()]; // user team: `three`, shared by both keys
const POLICY = `roles:
  all:
    - { service: "*", path: "/**" }
rateLimits:
  four: { rate: 1/h, burst: 4 }
  three: { rate: 1/h, burst: 3 }
users:
  bob: { roles: [all] }
  team: { roles: [all], rateLimit: three }
`;
const KEYS = `keys:
${keyEntry(shared, 'bob', 'shared', ['scope: inherit', 'rateLimit: four'])}
${keyEntry(userKeys[0], 'team', 'one', ['scope: inherit'])}
${keyEntry(userKeys[1], 'team', 'two', ['scope: inherit'])}
`;

describe.skipIf(skip)(`rate limits shared through Redis${skip ? ` — SKIPPED: ${redisServer.skip}` : ''}`, () => {
  let redis: TestRedis;
  let upstream: TestUpstream;
  let cfg: TempConfig;
  const running: RunningKeygate[] = [];
  let a: RunningKeygate;
  let b: RunningKeygate;
  let closed: RunningKeygate;

  beforeAll(async () => {
    redis = await startRedis(redisServer as string);
    upstream = await startUpstream();
    // A generous timeout: a slow answer on a loaded test machine would be a (correct) local fallback, not sharing.
    const backend = `  backend: redis\n  redis: { url: "${redis.url}", prefix: "kgtest:", timeout: 2s, onError: failOpen }`;
    cfg = tempConfig(upstream.origin, (main) => withRateLimiting(main, backend));
    cfg.write('policy.yaml', POLICY);
    cfg.write('keys.yaml', KEYS);
    cfg.write('closed.yaml', cfg.read('keygate.yaml').replace('onError: failOpen', 'onError: failClosed'));
    a = await startKeygate(cfg.mainFile);
    b = await startKeygate(cfg.mainFile);
    closed = await startKeygate(cfg.path('closed.yaml'));
    running.push(a, b, closed);
    await waitFor(
      () => running.every((kg) => kg.logs().some((l) => l.event === 'ratelimit_backend_ready')) || undefined,
      10_000,
      () => 'a keygate never connected to Redis',
    );
  });

  afterAll(async () => {
    for (const kg of running) await kg.close();
    await upstream?.close();
    await redis?.stop();
    cfg?.cleanup();
  });

  const get = (kg: RunningKeygate, key: string): Promise<number> =>
    httpSend(`${kg.url()}/compute/v2/p1/servers/1`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

  const metric = async (kg: RunningKeygate, name: string): Promise<number> =>
    valueOf(parseExposition(await (await fetch(`${kg.url('admin')}/metrics`)).text()), name) ?? 0;

  it('two keygates sharing one Redis enforce one limit together, in one round trip per request', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await get(i % 2 ? b : a, shared.key));
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    // The user's bucket is shared by the user's keys across both keygates too.
    expect([
      await get(a, userKeys[0].key),
      await get(b, userKeys[1].key),
      await get(a, userKeys[1].key),
      await get(b, userKeys[0].key),
    ]).toEqual([200, 200, 200, 429]);
    const stats = await redis.command('INFO commandstats');
    const evals = [...stats.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
    // One script call per limited request whatever the number of buckets, plus the one
    // EVALSHA that Redis refuses (NOSCRIPT) the first time it meets the script.
    expect(evals).toBeGreaterThanOrEqual(10);
    expect(evals).toBeLessThanOrEqual(11);
    // Only key ids and user names under the prefix: never a secret.
    const keys = await redis.command('KEYS *');
    expect(keys).toContain(`kgtest:key:${shared.id}:four:`);
    expect(keys).toContain('kgtest:user:team:three:');
    for (const k of [shared, ...userKeys]) expect(keys).not.toContain(k.key.slice(16));
    expect(await metric(a, 'keygate_ratelimit_backend_latency_seconds_count')).toBeGreaterThan(0);
    expect((await metric(a, 'keygate_ratelimit_backend_errors_total')) + (await metric(b, 'keygate_ratelimit_backend_errors_total'))).toBe(
      0,
    );
  });

  it('Redis killed: failOpen keeps serving with per-process limits and counts errors; failClosed refuses; back: shared limits resume', async () => {
    const fresh = newKey();
    // Added to the file and reloaded by all three: a key with a clean bucket for this test.
    for (const kg of running) expect(kg.app.snapshot().keys.byId.has(fresh.id)).toBe(false);
    const generations = running.map((kg) => kg.app.snapshot().generation);
    cfg.write('keys.yaml', `${KEYS}${keyEntry(fresh, 'bob', 'fresh', ['scope: inherit', 'rateLimit: four'])}\n`);
    await waitFor(
      () => running.every((kg, i) => kg.app.snapshot().generation > generations[i]) || undefined,
      10_000,
      () => 'the keys file was not reloaded',
    );

    await redis.kill();
    const errorsBefore = await metric(a, 'keygate_ratelimit_backend_errors_total');
    // failOpen: each keygate now has its own bucket of 4.
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => get(a, fresh.key)))).toEqual([200, 200, 200, 200, 429]);
    expect(await get(b, fresh.key)).toBe(200);
    expect(await metric(a, 'keygate_ratelimit_backend_errors_total')).toBeGreaterThanOrEqual(errorsBefore + 5);
    expect(a.logs().some((l) => l.event === 'ratelimit_backend_lost')).toBe(true);
    // failClosed: a limited key is refused while Redis is away (an unlimited one would not be).
    const refusedWhileDown = await httpSend(`${closed.url()}/compute/v2/p1/servers/1`, {
      headers: { authorization: `Bearer ${fresh.key}` },
    });
    expect(refusedWhileDown.status).toBe(429);
    expect(refusedWhileDown.headers['retry-after']).toBe('1');

    await redis.restart();
    await waitFor(
      async () => (await get(closed, fresh.key)) === 200 || undefined,
      10_000,
      () => 'keygate did not reconnect to Redis',
    );
    // Shared again: the reconnected Redis is empty, the failClosed keygate took 1, so 3 are left for everyone.
    expect([await get(a, fresh.key), await get(b, fresh.key), await get(a, fresh.key), await get(b, fresh.key)]).toEqual([
      200, 200, 200, 429,
    ]);
  });
});
