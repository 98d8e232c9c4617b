import { spawn, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DEMO_KEYS, REPO, tempConfig, withRateLimiting, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { findRedisServer, startRedis, type TestRedis } from '../helpers/redis.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** Last used, end to end: a real `keygate serve` records uses, saves them on SIGTERM, and `key list` shows them. */

const MON = DEMO_KEYS.monitoring;
const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

interface Listed {
  id: string;
  lastUsed: string | null;
  lastDenied: string | null;
  lastClient: string | null;
}

async function keyList(configFile: string, ...more: string[]): Promise<Listed[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['key', 'list', '-c', configFile, '--json', ...more], {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
    now: Date.now,
  });
  expect(code, err.join('\n')).toBe(0);
  return JSON.parse(out.join('\n')) as Listed[];
}

describe.concurrent('key usage saved in the state directory', () => {
  let upstream: TestUpstream;
  const configs: TempConfig[] = [];
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    for (const c of configs) {
      chmodSync(c.dir, 0o755);
      c.cleanup();
    }
    await upstream?.close();
  });

  it('a request through a running proxy shows up in key list after SIGTERM', async ({ expect }) => {
    const cfg = tempConfig(upstream.origin);
    configs.push(cfg);
    const before = Date.now();
    const kg = spawnKeygate(['serve', '-c', cfg.mainFile]);
    const { proxy } = await kg.ports();
    const base = `http://127.0.0.1:${proxy}/compute/v2/p1`;
    expect((await fetch(`${base}/servers/1`, { headers: auth(MON.key) })).status).toBe(200);
    expect((await fetch(`${base}/flavors`, { headers: auth(MON.key) })).status).toBe(403);
    // A wrong secret for a known id is no use of the key.
    const wrong = `${MON.key.slice(0, -4)}AAAA`;
    expect((await fetch(`${base}/servers/1`, { headers: auth(wrong) })).status).toBe(401);
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    const listed = await keyList(cfg.mainFile);
    const mon = listed.find((k) => k.id === MON.id)!;
    expect(mon.lastUsed).not.toBeNull();
    expect(Date.parse(mon.lastUsed!)).toBeGreaterThanOrEqual(Math.floor(before / 60_000) * 60_000);
    expect(mon.lastDenied).toBe(mon.lastUsed); // same minute
    expect(mon.lastClient).toBe('127.0.0.1');
    for (const k of listed.filter((k) => k.id !== MON.id)) expect(k).toMatchObject({ lastUsed: null, lastDenied: null, lastClient: null });
    expect(cfg.read('.keygate-state/key-usage.json')).not.toContain(MON.key.split('_')[2]);
    expect((await keyList(cfg.mainFile, '--unused', '30d')).map((k) => k.id)).not.toContain(MON.id);
  }, 60_000);

  it('serve --workers 2: every worker saves its uses into the one file', async ({ expect }) => {
    const cfg = tempConfig(upstream.origin);
    configs.push(cfg);
    const kg = spawnKeygate(['serve', '-c', cfg.mainFile, '--workers', '2']);
    const { proxy } = await kg.ports();
    const base = `http://127.0.0.1:${proxy}/compute/v2/p1`;
    // New connections are shared out between the workers; both keys on several connections.
    for (let i = 0; i < 6; i++) {
      for (const key of [MON.key, DEMO_KEYS.deploy.key]) {
        const res = await fetch(`${base}/servers/${i}`, { headers: { ...auth(key), connection: 'close' } });
        expect(res.status).toBe(200);
      }
    }
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    const used = (await keyList(cfg.mainFile)).filter((k) => k.lastUsed !== null).map((k) => k.id);
    expect(used.sort()).toEqual([MON.id, DEMO_KEYS.deploy.id].sort());
  }, 60_000);

  it('a read-only config directory without state.dir: a clear start-up warning, and the proxy serves', async ({ expect, skip }) => {
    // root writes anywhere, so run the proxy as nobody when the tests run as root.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if ('uid' in asNobody && spawnSync(process.execPath, [`${REPO}/bin/keygate.js`, '--version'], asNobody).status !== 0) {
      skip('[SKIPPED: running as root and user nobody cannot run this checkout]');
    }
    const cfg = tempConfig(upstream.origin);
    configs.push(cfg);
    chmodSync(cfg.dir, 0o555);
    const child = spawn(process.execPath, [`${REPO}/bin/keygate.js`, 'serve', '-c', cfg.mainFile], {
      ...asNobody,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started = await waitFor(
      () => out.split('\n').find((l) => l.includes('"event":"started"')),
      15_000,
      () => out,
    );
    const warning = JSON.parse(out.split('\n').find((l) => l.includes('state_dir_unwritable'))!) as Record<string, string>;
    expect(warning).toMatchObject({ level: expect.anything(), dir: `${cfg.dir}/.keygate-state` });
    expect(warning.msg).toContain('state.dir');
    const proxy = (JSON.parse(started) as { proxy: string }).proxy;
    expect((await fetch(`http://${proxy}/compute/v2/p1/servers/1`, { headers: auth(MON.key) })).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});

const redisServer = findRedisServer();
const noRedis = typeof redisServer !== 'string';

describe.skipIf(noRedis)(`key usage shared through Redis${noRedis ? ` — SKIPPED: ${(redisServer as { skip: string }).skip}` : ''}`, () => {
  let redis: TestRedis;
  let upstream: TestUpstream;
  let cfg: TempConfig;
  let a: RunningKeygate;
  let b: RunningKeygate;
  beforeAll(async () => {
    redis = await startRedis(redisServer as string);
    upstream = await startUpstream();
    const backend = `  backend: redis\n  redis: { url: "${redis.url}", prefix: "kgusage:", timeout: 2s }`;
    cfg = tempConfig(upstream.origin, (main) => withRateLimiting(main, backend));
    [a, b] = await Promise.all([startKeygate(cfg.mainFile), startKeygate(cfg.mainFile)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
    await upstream?.close();
    cfg?.cleanup();
  });

  it("two proxies' uses are merged within seconds, newest wins", async () => {
    // Uses from elsewhere in the fleet, already in the hash: an older one of deploy, a newer one of monitoring.
    const later = Math.floor(Date.now() / 60_000) + 1000;
    await redis.command(`HSET kgusage:key-usage ${DEMO_KEYS.deploy.id} "1000,0,10.0.0.9"`);
    await redis.command(`HSET kgusage:key-usage ${MON.id} "${later},0,10.7.7.7"`);
    const path = '/compute/v2/p1/servers/1';
    expect((await fetch(`${a.url()}${path}`, { headers: auth(MON.key) })).status).toBe(200);
    expect((await fetch(`${a.url()}/compute/v2/p1/flavors`, { headers: auth(MON.key) })).status).toBe(403);
    expect((await fetch(`${b.url()}${path}`, { headers: auth(DEMO_KEYS.deploy.key) })).status).toBe(200);
    const byId = await waitFor(async () => {
      const keys = Object.fromEntries((await keyList(cfg.mainFile)).map((k) => [k.id, k]));
      const deployed = keys[DEMO_KEYS.deploy.id].lastUsed;
      return keys[MON.id].lastDenied !== null && deployed !== null && Date.parse(deployed) > 1000 * 60_000 ? keys : undefined;
    }, 10_000);
    expect(byId[MON.id].lastUsed).toBe(new Date(later * 60_000).toISOString().replace('.000Z', 'Z')); // the newer one stayed
    expect(byId[MON.id].lastClient).toBe('10.7.7.7');
    expect(byId[DEMO_KEYS.deploy.id].lastClient).toBe('127.0.0.1');
    expect(byId[DEMO_KEYS.aliceAdmin.id].lastUsed).toBeNull();
    // No secret in Redis: ids, minutes, addresses.
    const dump = await redis.command('HGETALL kgusage:key-usage');
    expect(dump).not.toContain(MON.key.split('_')[2]);
  });
});
