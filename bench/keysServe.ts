import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { formatKey } from '../src/auth/keyFormat.js';
import { keyIdFor, secretFor, writeLargeKeysFile } from './largeKeysFile.js';
import { freePort } from './lib/net.js';
import { BENCH_KEYS_FILE, IMAGE_NODE_FLAGS, prepareConfig } from './peers/keygate.js';
import { percentile } from './lib/stats.js';

/*
 * Keys at scale in a real `keygate serve` process (issue 12): for each key count, the
 * time until /readyz answers 200, the process's RSS after the load, after traffic
 * (requests spread over the whole key set), after 1 and after 5 reloads (SIGHUP), the
 * main thread's longest event-loop stall during each reload (prom-client's
 * nodejs_eventloop_lag_max_seconds, reset by every scrape: scraped just before and just
 * after the reload) and request p99 during the reloads against p99 without (paced
 * requests in the same number of windows as long as the reloads', each right after a
 * reload's worker has exited, so the machine's drift hits both sides alike).
 * Memory is read once the load worker has exited (it stops when idle: its heap is given
 * back with it), from /proc/<pid>/status, plus the heap and external figures from
 * keygate's own /metrics.
 *
 *   npm run build && node --import tsx bench/keysServe.ts [--keys 10000,100000,1000000]
 *     [--reloads 5] [--requests 20000] [--env MALLOC_ARENA_MAX=2] [--node-flag --max-semi-space-size=4]
 *   (node flags default to the image's `--v8-pool-size=1`; any --node-flag replaces them)
 *     [--heap-snapshot DIR]
 *
 * Every wait has a deadline; a run that misses one fails rather than hangs.
 */

const REPO = resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;
const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000,100000' },
    reloads: { type: 'string', default: '5' },
    requests: { type: 'string', default: '20000' },
    env: { type: 'string', multiple: true, default: [] },
    // As the image runs keygate (IMAGE_NODE_FLAGS); `--node-flag=--v8-pool-size=4` for node's default.
    'node-flag': { type: 'string', multiple: true, default: [...IMAGE_NODE_FLAGS] },
    'heap-snapshot': { type: 'string' },
    json: { type: 'string' },
  },
});
const counts = args.keys.split(',').map(Number);
const RELOADS = Number(args.reloads);
const REQUESTS = Number(args.requests);
const extraEnv = Object.fromEntries(args.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const nodeFlags = args['node-flag'];

/** keygate's own load limit (5 min) and a little: a 1,000,000-key load takes minutes on a busy 2-core machine. */
const loadDeadlineMs = (keys: number): number => Math.min(330_000, 60_000 + keys / 2);

interface Memory {
  rssMiB: number;
  peakMiB: number;
  anonMiB: number;
  fileMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

export interface KeysServeRow {
  keys: number;
  keysFileMB: number;
  readyMs: number;
  afterLoad: Memory;
  afterTraffic: Memory;
  afterReload1: Memory;
  /** Just after the first reload landed, its load worker still alive (idle, about to stop). */
  withWorker: Memory;
  afterReloads: Memory;
  reloads: number;
  reloadMs: number[];
  stallMaxMs: number[];
  /** The same figure over 3 s of the same paced requests without a reload: what the machine's load alone causes. */
  stallNoReloadMs: number;
  /**
   * Over windows without a reload, one after each reload (once its worker has exited) and
   * as long as that reload's window: the machine's drift hits both sides alike.
   */
  p99NoReloadMs: number;
  p99DuringReloadMs: number;
  maxDuringReloadMs: number;
  failed: number;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function threads(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

async function scrape(admin: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(nodejs_[a-z_]+|process_[a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

/** The longest event-loop delay since the previous scrape. */
function lagMs(metrics: Map<string, number>): number {
  return +((metrics.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000).toFixed(1);
}

async function memory(pid: number, admin: string): Promise<Memory> {
  const m = await scrape(admin);
  const s = status(pid);
  const mib = (kib: number | undefined): number => +((kib ?? NaN) / 1024).toFixed(1);
  const bytes = (name: string): number => +((m.get(name) ?? NaN) / MiB).toFixed(1);
  return {
    rssMiB: mib(s.VmRSS),
    peakMiB: mib(s.VmHWM),
    anonMiB: mib(s.RssAnon),
    fileMiB: mib(s.RssFile),
    heapUsedMiB: bytes('nodejs_heap_size_used_bytes'),
    heapTotalMiB: bytes('nodejs_heap_size_total_bytes'),
    externalMiB: bytes('nodejs_external_memory_bytes'),
  };
}

/**
 * The load worker stops a few seconds after its last load (its heap goes with it): wait
 * until the process has fewer threads than `busy`, counted while the worker was alive.
 */
async function workerGone(pid: number, busy: number): Promise<void> {
  await until(() => (threads(pid) < busy ? true : undefined), 20_000, 'the load worker to exit');
}

class Keygate {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  #partial = '';

  constructor(mainFile: string, dir: string, snapshotDir: string | undefined) {
    const flags = [...nodeFlags, ...(snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [])];
    this.proc = spawn(process.execPath, [...flags, join(REPO, 'bin/keygate.js'), 'serve', '-c', mainFile], {
      cwd: dir,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.proc.stdout!.on('data', (c: Buffer) => {
      const parts = (this.#partial + c.toString('utf8')).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((l) => l.includes('"event"')));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  events(name: string): string[] {
    return this.lines.filter((l) => l.includes(`"event":"${name}"`));
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A request for key `i` of the generated set. */
function requestFor(pool: Pool, i: number): Promise<number> {
  return pool
    .request({
      method: 'GET',
      path: '/compute/v2/p1/servers/42',
      headers: { authorization: `Bearer ${formatKey(keyIdFor(i), secretFor(i))}` },
    })
    .then(async (res) => {
      await res.body.dump();
      return res.statusCode;
    });
}

/** `total` requests spread over the key set, 8 at a time, each key presented once at most per pass. */
async function traffic(pool: Pool, keys: number, total: number, deadlineMs: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const stopAt = Date.now() + deadlineMs;
  const lane = async (): Promise<void> => {
    while (next < total && Date.now() < stopAt) {
      const i = (next++ * 7919) % keys;
      if ((await requestFor(pool, i).catch(() => 0)) !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return failed;
}

/** Paced requests (100/s) until `stop` resolves: each one's latency in ms. */
async function paced(pool: Pool, keys: number, stop: Promise<unknown>): Promise<{ latencies: number[]; failed: number }> {
  let done = false;
  void stop.then(() => (done = true));
  const latencies: number[] = [];
  let failed = 0;
  const inflight: Promise<void>[] = [];
  for (let n = 0; !done; n++) {
    const t = performance.now();
    inflight.push(
      requestFor(pool, (n * 104_729) % keys).then(
        (code) => {
          latencies.push(performance.now() - t);
          if (code !== 200) failed++;
        },
        () => void failed++,
      ),
    );
    await sleep(10);
  }
  await Promise.all(inflight);
  return { latencies: latencies.sort((a, b) => a - b), failed };
}

async function measure(keys: number, upstream: string): Promise<KeysServeRow> {
  const ports = { proxy: await freePort(), admin: await freePort(), check: await freePort() };
  // No periodic re-check and no access log: the only reloads are the bench's SIGHUPs, the only stdout its events.
  const { dir, mainFile } = prepareConfig({
    upstream,
    ports,
    accessLog: false,
    keysYaml: (file) => writeLargeKeysFile(file, keys),
    editMain: (main) => `${main}\nreload: { interval: 1h }\n`,
  });
  const admin = `http://127.0.0.1:${ports.admin}`;
  const snapshotDir = args['heap-snapshot'];
  const kg = new Keygate(mainFile, dir, snapshotDir);
  const pool = new Pool(`http://127.0.0.1:${ports.proxy}`, { connections: 8 });
  try {
    const t0 = performance.now();
    await until(
      async () => {
        if (kg.proc.exitCode !== null) throw new Error(`keygate exited (${kg.proc.exitCode})`);
        const ok = await fetch(`${admin}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.ok,
          () => false,
        );
        return ok ? true : undefined;
      },
      loadDeadlineMs(keys),
      `keygate with ${keys} keys to be ready`,
    );
    const readyMs = Math.round(performance.now() - t0);
    await workerGone(kg.pid, threads(kg.pid));
    const afterLoad = await memory(kg.pid, admin);
    let failed = await traffic(pool, keys, REQUESTS, 120_000);
    const afterTraffic = await memory(kg.pid, admin);
    await scrape(admin);
    const baseline = await paced(pool, keys, sleep(3_000));
    const stallNoReloadMs = lagMs(await scrape(admin));
    failed += baseline.failed;
    const reloadMs: number[] = [];
    const stallMaxMs: number[] = [];
    const during: number[] = [];
    const quiet: number[] = [];
    let afterReload1 = afterTraffic;
    let withWorker = afterTraffic;
    for (let r = 1; r <= RELOADS; r++) {
      await scrape(admin); // resets the event-loop delay histogram
      const before = kg.events('reloaded').length;
      const sent = performance.now();
      kg.proc.kill('SIGHUP');
      const landed = until(() => kg.events('reloaded')[before], loadDeadlineMs(keys), `reload ${r}`);
      const load = await paced(
        pool,
        keys,
        landed.then(() => sleep(500)),
      );
      const line = await landed;
      const windowMs = performance.now() - sent;
      const busy = threads(kg.pid);
      // Before memory(): its scrape would reset the event-loop delay histogram (the first reload read 0 ms).
      const lag = await scrape(admin);
      if (r === 1) withWorker = await memory(kg.pid, admin);
      stallMaxMs.push(lagMs(lag));
      reloadMs.push(Math.round((JSON.parse(line) as { durationMs: number }).durationMs));
      during.push(...load.latencies);
      failed += load.failed;
      await workerGone(kg.pid, busy);
      if (r === 1) afterReload1 = await memory(kg.pid, admin);
      const still = await paced(pool, keys, sleep(windowMs));
      quiet.push(...still.latencies);
      failed += still.failed;
    }
    const afterReloads = await memory(kg.pid, admin);
    if (snapshotDir) {
      kg.proc.kill('SIGUSR2');
      await until(
        () => (readdirSync(snapshotDir).some((f) => f.endsWith('.heapsnapshot') && f.includes(String(kg.pid))) ? true : undefined),
        60_000,
        'the heap snapshot',
      );
      await sleep(2_000); // the file is written after it is created
    }
    during.sort((a, b) => a - b);
    quiet.sort((a, b) => a - b);
    return {
      keys,
      keysFileMB: +(readFileSync(join(dir, BENCH_KEYS_FILE)).length / 1e6).toFixed(1),
      readyMs,
      afterLoad,
      afterTraffic,
      afterReload1,
      withWorker,
      afterReloads,
      reloads: RELOADS,
      reloadMs,
      stallMaxMs,
      stallNoReloadMs,
      p99NoReloadMs: +percentile(quiet, 99).toFixed(1),
      p99DuringReloadMs: +percentile(during, 99).toFixed(1),
      maxDuringReloadMs: +(during.at(-1) ?? NaN).toFixed(1),
      failed,
    };
  } finally {
    await pool.close();
    await kg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function startUpstream(): Promise<Server> {
  const server = createServer((_req, res) => res.end('ok'));
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

type Target = { readonly keys: number; readonly text: string; readonly met: (r: KeysServeRow) => boolean };

/** The rows: what each count measured, and the target where the issue sets one. */
const ROWS: readonly { name: string; value: (r: KeysServeRow) => string; targets?: readonly Target[] }[] = [
  {
    name: 'time until /readyz is 200',
    value: (r) => `${(r.readyMs / 1000).toFixed(1)} s`,
    targets: [
      { keys: 100_000, text: '< 1 s', met: (r) => r.readyMs < 1000 },
      { keys: 1_000_000, text: '< 8 s', met: (r) => r.readyMs < 8000 },
    ],
  },
  {
    name: 'RSS after load (peak during it)',
    value: (r) => `${r.afterLoad.rssMiB} (${r.afterLoad.peakMiB}) MiB`,
    targets: [
      { keys: 100_000, text: '< 100 MiB', met: (r) => r.afterLoad.rssMiB < 100 },
      { keys: 1_000_000, text: '< 600 MiB', met: (r) => r.afterLoad.rssMiB < 600 },
    ],
  },
  {
    name: 'RSS after traffic',
    value: (r) => `${r.afterTraffic.rssMiB} MiB`,
    targets: [{ keys: 100_000, text: '< 110 MiB', met: (r) => r.afterTraffic.rssMiB < 110 }],
  },
  {
    name: 'RSS after 1 reload',
    value: (r) => `${r.afterReload1.rssMiB} MiB`,
    targets: [{ keys: 100_000, text: '< 120 MiB', met: (r) => r.afterReload1.rssMiB < 120 }],
  },
  { name: 'RSS while the load worker is still alive (idle)', value: (r) => `${r.withWorker.rssMiB} MiB` },
  {
    name: 'RSS after N reloads / after 1',
    value: (r) => `${r.afterReloads.rssMiB} MiB (N=${r.reloads}): ${(r.afterReloads.rssMiB / r.afterReload1.rssMiB).toFixed(2)}x`,
    targets: [{ keys: 100_000, text: '<= 1.1x', met: (r) => r.afterReloads.rssMiB / r.afterReload1.rssMiB <= 1.1 }],
  },
  { name: 'peak RSS over the run', value: (r) => `${r.afterReloads.peakMiB} MiB` },
  {
    name: 'heap used / heap total / external, after N reloads',
    value: (r) => `${r.afterReloads.heapUsedMiB} / ${r.afterReloads.heapTotalMiB} / ${r.afterReloads.externalMiB} MiB`,
  },
  { name: 'reload, trigger to swap', value: (r) => r.reloadMs.map((m) => (m / 1000).toFixed(1)).join(', ') + ' s' },
  {
    name: 'main-thread stall during a reload (event-loop delay max; without a reload)',
    value: (r) => `${Math.max(...r.stallMaxMs)} ms (${r.stallNoReloadMs} ms)`,
  },
  {
    name: 'request p99 during reloads / without',
    value: (r) => `${r.p99DuringReloadMs} / ${r.p99NoReloadMs} ms: ${(r.p99DuringReloadMs / r.p99NoReloadMs).toFixed(1)}x`,
    targets: [{ keys: 100_000, text: '<= 1.5x', met: (r) => r.p99DuringReloadMs / r.p99NoReloadMs <= 1.5 }],
  },
  { name: 'failed requests', value: (r) => String(r.failed) },
];

function markdownTable(rows: readonly KeysServeRow[]): string {
  const head = ['', ...rows.map((r) => `${r.keys.toLocaleString('en')} keys`), 'target'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    const cells = rows.map((r) => {
      const target = row.targets?.find((t) => t.keys === r.keys);
      return target ? `${row.value(r)} ${target.met(r) ? 'met' : 'missed'}` : row.value(r);
    });
    const targets = (row.targets ?? []).map((t) => `${t.text} at ${t.keys.toLocaleString('en')}`).join('; ');
    lines.push(`| ${row.name} | ${cells.join(' | ')} | ${targets} |`);
  }
  return lines.join('\n');
}

const upstream = await startUpstream();
const origin = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
const rows: KeysServeRow[] = [];
try {
  for (const keys of counts) {
    const row = await measure(keys, origin);
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  upstream.close();
}
console.log(`\nnode ${process.version}, keygate's node flags: ${nodeFlags.join(' ') || '(none)'}; env: ${JSON.stringify(extraEnv)}`);
console.log(`\n${markdownTable(rows)}`);
if (args.json) writeFileSync(args.json, JSON.stringify({ env: extraEnv, nodeFlags, node: process.version, rows }, null, 2));
