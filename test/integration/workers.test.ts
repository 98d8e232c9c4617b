import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, waitFor, type KeygateProcess } from '../helpers/keygate.js';
import { parseExposition, valueOf } from '../helpers/promText.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * `keygate serve --workers 2` as a real process tree: both workers serve, the admin port
 * aggregates and gates readiness on every worker, reloads reach every worker (a failed
 * one keeps the last good config everywhere), a dead worker is replaced and counted, and
 * SIGTERM drains them all.
 */
describe('serve --workers 2', () => {
  let upstream: TestUpstream;
  let cfg: TempConfig;
  let kg: KeygateProcess;
  let ports: Record<'proxy' | 'admin' | 'check', number>;
  const lines = (): Record<string, unknown>[] =>
    kg
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const workerPids = (): number[] =>
    lines()
      .filter((l) => l.event === 'worker_started')
      .map((l) => Number(l.pid));
  /** A new connection each time: the primary hands connections to the workers in turn. */
  const statusWith = async (key: string): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${ports.proxy}/compute/v2/p1/servers/1`, {
      headers: { authorization: `Bearer ${key}`, connection: 'close' },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const statuses = async (key: string, n = 6): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await statusWith(key));
    return out;
  };
  const scrape = async (): Promise<ReturnType<typeof parseExposition>> =>
    parseExposition(await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text());

  beforeAll(async () => {
    upstream = await startUpstream((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    cfg = tempConfig(upstream.origin);
    kg = spawnKeygate(['serve', '-c', cfg.mainFile, '--workers', '2']);
    ports = await kg.ports();
    await waitFor(
      () => (workerPids().length === 2 ? true : undefined),
      10_000,
      () => kg.stdout(),
    );
  }, 30_000);

  afterAll(async () => {
    if (kg?.child.exitCode === null) kg.child.kill('SIGKILL');
    cfg?.cleanup();
    await upstream?.close();
  });

  it('serves from both workers and aggregates their metrics on the primary admin port', async () => {
    expect((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).status).toBe(200);
    const before =
      valueOf(await scrape(), 'keygate_requests_total', {
        reason: 'allow',
        mode: 'proxy',
        service: 'compute',
        method: 'GET',
        decision: 'allow',
      }) ?? 0;
    expect(await statuses(DEMO_KEYS.deploy.key, 10)).toEqual(Array(10).fill(200));
    const exp = await scrape();
    expect(
      valueOf(exp, 'keygate_requests_total', { reason: 'allow', mode: 'proxy', service: 'compute', method: 'GET', decision: 'allow' }),
    ).toBe(before + 10);
    expect(valueOf(exp, 'keygate_workers')).toBe(2);
    expect(valueOf(exp, 'keygate_worker_restarts_total')).toBe(0);
    const pids = new Set(
      lines()
        .filter((l) => l.msg === 'request')
        .map((l) => l.pid),
    );
    expect(pids.size).toBe(2);
  });

  it('a reload reaches every worker; a failed one keeps the last good config everywhere', async () => {
    const keys = cfg.read('keys.yaml');
    cfg.write('keys.yaml', `${keys}\n  - this is: [not valid\n`);
    await waitFor(
      () => lines().some((l) => l.event === 'reload_failed') || undefined,
      10_000,
      () => kg.stdout(),
    );
    expect(await statuses(DEMO_KEYS.deploy.key)).toEqual(Array(6).fill(200));
    const generation = valueOf(await scrape(), 'keygate_config_generation') ?? 0;
    cfg.write('keys.yaml', keys.replace(`id: ${DEMO_KEYS.deploy.id}`, `id: ${DEMO_KEYS.deploy.id}\n    disabled: true`));
    await waitFor(
      async () => ((valueOf(await scrape(), 'keygate_config_generation') ?? 0) > generation ? true : undefined),
      10_000,
      () => kg.stdout(),
    );
    expect(await statuses(DEMO_KEYS.deploy.key)).toEqual(Array(6).fill(401));
    expect(await statuses(DEMO_KEYS.monitoring.key)).toEqual(Array(6).fill(200));
  });

  it('replaces a worker that dies and counts it; ready again once the new one is', async () => {
    const [victim] = workerPids();
    process.kill(victim, 'SIGKILL');
    await waitFor(
      async () => (valueOf(await scrape(), 'keygate_worker_restarts_total') === 1 ? true : undefined),
      10_000,
      () => kg.stdout(),
    );
    await waitFor(
      () => (workerPids().length === 3 ? true : undefined),
      10_000,
      () => kg.stdout(),
    );
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).status === 200 ? true : undefined), 10_000);
    expect(await statuses(DEMO_KEYS.monitoring.key)).toEqual(Array(6).fill(200));
  });

  it("counts every worker's rate-limit refusals in the aggregated keygate_rate_limited_total", async () => {
    const labels = { service: 'compute', scope: 'user' };
    const before = valueOf(await scrape(), 'keygate_rate_limited_total', labels) ?? 0;
    const generation = valueOf(await scrape(), 'keygate_config_generation') ?? 0;
    const policy = cfg
      .read('policy.yaml')
      .replace(/^rateLimits:\n/m, 'rateLimits:\n  tight: { rate: 1/h, burst: 1 }\n')
      .replace(/^( {2}joe:\n {4}roles: \[[^\]]*\]\n)/m, '$1    rateLimit: tight\n');
    expect(policy).toContain('rateLimit: tight');
    cfg.write('policy.yaml', policy);
    await waitFor(
      async () => ((valueOf(await scrape(), 'keygate_config_generation') ?? 0) > generation ? true : undefined),
      10_000,
      () => kg.stdout(),
    );
    // Memory buckets are per worker: each lets one request through, then refuses. A worker may
    // apply the reload a moment after the generation moved, so ask until four answers in a row
    // (connections alternate between the workers) are refusals, within a deadline.
    const got: number[] = [];
    const deadline = Date.now() + 15_000;
    while (!(got.length >= 4 && got.slice(-4).every((s) => s === 429)) && Date.now() < deadline)
      got.push(await statusWith(DEMO_KEYS.monitoring.key));
    const refused = got.filter((s) => s === 429).length;
    expect(got.slice(-4)).toEqual([429, 429, 429, 429]);
    expect(got.filter((s) => s !== 429).every((s) => s === 200)).toBe(true);
    expect(valueOf(await scrape(), 'keygate_rate_limited_total', labels)).toBe(before + refused);
  });

  it('SIGTERM drains every worker and exits 0', async () => {
    const pids = workerPids().slice(-2);
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(lines().at(-1)).toMatchObject({ event: 'stopped' });
  });
});
