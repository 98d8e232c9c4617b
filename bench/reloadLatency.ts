/**
 * Request latency while keygate reloads a large keys file, against latency without a
 * reload (issue 4: p99 during the reload ≤ 2× p99 without).
 *
 *   npm run build && node --import tsx bench/reloadLatency.ts [--keys 100000] [--rate 300] [--clients 4] [--baseline 10]
 *
 * keygate (`bin/keygate.js serve`, built code) and the upstream run as child processes;
 * this process generates a paced request load over keep-alive connections and records
 * each request's latency. The reload window runs from the keys-file swap (rename over)
 * to keygate's `reloaded` log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { formatKey } from '../src/auth/keyFormat.js';
import { keyIdFor, secretFor, writeLargeKeysFile } from './largeKeysFile.js';
import { BENCH_KEYS_FILE, prepareConfig } from './peers/keygate.js';

const REPO = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '300' },
    clients: { type: 'string', default: '4' },
    baseline: { type: 'string', default: '10' },
  },
});
const KEYS = Number(values.keys);
const RATE = Number(values.rate);
const CLIENTS = Number(values.clients);
const BASELINE_S = Number(values.baseline);

function child(args: string[]): { proc: ChildProcess; out: () => string } {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return { proc, out: () => out };
}

async function until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Paced closed-loop clients: each sends, waits for the answer, then waits for its next slot. */
function startLoad(url: string, key: string): { window(): Window; stop(): Promise<void> } {
  const agent = new Agent({ connections: CLIENTS });
  let current = newWindow();
  let stopped = false;
  const interval = (1000 * CLIENTS) / RATE;
  const client = async (): Promise<void> => {
    let next = performance.now();
    while (!stopped) {
      const started = performance.now();
      let ok = false;
      try {
        const res = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${key}` } });
        await res.body.dump();
        ok = res.statusCode === 200;
      } catch {
        ok = false;
      }
      const w = current;
      w.latency.record(Math.max(1, Math.round((performance.now() - started) * 1000)));
      if (!ok) w.failed++;
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = performance.now();
    }
  };
  const loops = Array.from({ length: CLIENTS }, client);
  return {
    window: () => {
      const done = current;
      current = newWindow();
      return done;
    },
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      await agent.close();
    },
  };
}

interface Window {
  readonly latency: RecordableHistogram; // microseconds
  failed: number;
  readonly started: number;
}

function newWindow(): Window {
  return { latency: createHistogram(), failed: 0, started: performance.now() };
}

function describe(name: string, w: Window): { p99: number } {
  const h = w.latency;
  const ms = (us: number): string => (us / 1000).toFixed(2).padStart(8);
  const seconds = (performance.now() - w.started) / 1000;
  console.log(
    `${name.padEnd(16)} ${String(h.count).padStart(6)} req in ${seconds.toFixed(1)} s  p50 ${ms(h.percentile(50))} ms  p99 ${ms(h.percentile(99))} ms  max ${ms(h.max)} ms  failed ${w.failed}`,
  );
  return { p99: h.percentile(99) };
}

let dir: string | undefined;
const procs: ChildProcess[] = [];
try {
  const upstream = child([
    '--input-type=module',
    '-e',
    `import { startEchoUpstream } from ${JSON.stringify(join(REPO, 'dist/demo/echoUpstream.js'))}; const u = await startEchoUpstream('127.0.0.1', 0); console.log('port', u.port);`,
  ]);
  procs.push(upstream.proc);
  const upstreamPort = await until(() => /port (\d+)/.exec(upstream.out())?.[1], 10_000, 'the upstream');
  console.log(`generating ${KEYS} keys…`);
  const config = prepareConfig({
    upstream: `http://127.0.0.1:${upstreamPort}`,
    accessLog: false,
    keysYaml: (file) => writeLargeKeysFile(file, KEYS),
    editMain: (main) => `${main}\nreload: { interval: 1h, debounce: 100ms }\n`,
  });
  dir = config.dir;

  console.log('starting keygate (the start-up load of a large file takes a while)…');
  const kg = child([join(REPO, 'bin/keygate.js'), 'serve', '-c', config.mainFile]);
  procs.push(kg.proc);
  const started = await until(
    () =>
      kg
        .out()
        .split('\n')
        .find((l) => l.includes('"event":"started"')),
    600_000,
    'keygate to start',
  );
  const proxy = (JSON.parse(started) as { proxy: string }).proxy;
  const url = `http://${proxy}/compute/v2/p1/servers/42`;
  const key = formatKey(keyIdFor(KEYS - 1), secretFor(KEYS - 1));

  // The next version of the file, ready before the reload window opens.
  writeLargeKeysFile(join(dir, '.large-keys.next'), KEYS + 1);
  const load = startLoad(url, key);
  await new Promise((r) => setTimeout(r, 2_000)); // warm-up
  load.window();
  await new Promise((r) => setTimeout(r, BASELINE_S * 1000));
  const baseline = describe('no reload', load.window());

  renameSync(join(dir, '.large-keys.next'), join(dir, BENCH_KEYS_FILE));
  const reloaded = await until(
    () =>
      kg
        .out()
        .split('\n')
        .find((l) => l.includes('"event":"reloaded"')),
    600_000,
    'the reload',
  );
  const during = describe('during reload', load.window());
  await load.stop();
  const { durationMs } = JSON.parse(reloaded) as { durationMs: number };
  console.log(
    `reload of ${KEYS + 1} keys took ${(durationMs / 1000).toFixed(1)} s; p99 during / p99 without = ${(during.p99 / baseline.p99).toFixed(2)}× (target ≤ 2×)`,
  );
  console.log(`${RATE} req/s target, ${CLIENTS} keep-alive clients, node ${process.version}`);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
