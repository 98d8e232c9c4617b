/**
 * keygate against a bare undici forwarder (and nginx, when installed), in one run.
 *
 *   npm run bench                 # under 3 minutes; reload and RSS with 100,000 keys
 *   npm run bench -- --quick      # about 50 s; 10,000 keys, no wrk, no decision microbenchmark
 *
 * Options: --keys N (keys for RSS and reload; default 100,000, quick 10,000),
 * --rounds N, --rate R (req/s of the latency scenarios), --connections C, --no-nginx,
 * --no-wrk, --no-build, --profile (node --cpu-prof on keygate; the top self-time
 * functions are printed and saved).
 *
 * Everything listens on 127.0.0.1. Peers alternate within each round so that machine
 * noise hits them alike; ratios from one run are the numbers to read (bench/README.md).
 * Results go to bench/results/latest.json and latest.md (latest-quick.* for --quick).
 * Exits 1 only on a broken run: a server that did not start or died, or more than 1%
 * errors; never on slow numbers.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_KEYS } from '../test/helpers/config.js';
import { buildIfStale } from './lib/build.js';
import { startChild, waitForLine, type Child } from './lib/child.js';
import { topSelfTime, type HotFunction } from './lib/cpuprofile.js';
import { generateKeys, unknownKey, type GeneratedKeys } from './lib/keys.js';
import { memoryMiB } from './lib/proc.js';
import { closedLoop } from './load/autocannon.js';
import { wrkAvailable } from './load/wrk.js';
import { BENCH_KEYS_FILE, prepareConfig, REPO, startKeygate, type KeygatePeer } from './peers/keygate.js';
import { nginxBinary, startNginx, type NginxPeer } from './peers/nginx.js';
import { evaluateTargets, markdownReport, targetsText, textTable } from './report.js';
import { bearer, PATHS, type BenchContext } from './scenarios/context.js';
import { decisionMicrobench, type DecisionResult } from './scenarios/decision.js';
import type { Peer, ScenarioResult } from './scenarios/harness.js';
import { moderateRate, unknownKeyFlood } from './scenarios/latency.js';
import { reloadUnderLoad, type ReloadResult } from './scenarios/reload.js';
import { bigResponse, smallGet, smallGetWrk, upload, warmUp } from './scenarios/throughput.js';

const RESULTS_DIR = join(REPO, 'bench/results');
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');
/** Keys loaded by the keygates that serve the throughput scenarios (per-request cost does not grow with it). */
const SERVE_KEYS = 10_000;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    keys: { type: 'string' },
    rounds: { type: 'string' },
    rate: { type: 'string' },
    connections: { type: 'string' },
    'no-nginx': { type: 'boolean', default: false },
    'no-wrk': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const quick = args.quick ?? false;
const keyCount = Number(args.keys ?? (quick ? 10_000 : 100_000));
const serveKeys = Math.min(keyCount, SERVE_KEYS);
const budgetS = quick ? 45 : 175;
const started = performance.now();
const deadline = started + budgetS * 1000;
const children = new Set<Child>();
const notes: string[] = [];
const broken: string[] = [];

// A crash must not leave servers behind: kill what this process started, by pid.
process.once('exit', () => {
  for (const c of children) if (c.alive()) c.proc.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

function log(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

function track<T extends Child>(c: T): T {
  children.add(c);
  return c;
}

async function startNodePeer(name: string, file: string, ...rest: string[]): Promise<{ child: Child; port: number }> {
  const child = track(startChild(name, process.execPath, ['--import', 'tsx', join(REPO, 'bench/peers', file), ...rest]));
  const line = await waitForLine(child, (l) => l.includes('"started"'), 15_000);
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

function keygatePeer(name: string, kg: KeygatePeer): Peer {
  return { name, url: (p) => `${kg.proxy}/compute${p}`, pids: () => [kg.child.pid], mainPid: kg.child.pid };
}

async function startKeygateWith(name: string, origin: string, keysYaml: string, o: { accessLog: boolean; timeoutMs: number; nodeFlags?: string[] }): Promise<{ kg: KeygatePeer; keysFile: string }> {
  const cfg = prepareConfig({ upstream: origin, keysYaml, accessLog: o.accessLog });
  const kg = await startKeygate(name, cfg.mainFile, cfg.dir, { timeoutMs: o.timeoutMs, nodeFlags: o.nodeFlags ?? [], onSpawn: track });
  return { kg, keysFile: join(cfg.dir, BENCH_KEYS_FILE) };
}

function brokenBecause(why: string): void {
  if (!broken.includes(why)) broken.push(why);
}

function checkErrors(s: ScenarioResult): void {
  for (const [name, c] of Object.entries(s.cases)) {
    if (c.errorRate > 0.01) brokenBecause(`${s.id} / ${name}: ${c.errors} errors (${(c.errorRate * 100).toFixed(1)}%), statuses ${JSON.stringify(c.statuses)}`);
  }
  for (const c of children) if (!c.alive() && !c.stopping) brokenBecause(`${c.name} exited during ${s.id}`);
}

async function maybeNginx(upstreamPort: number, tokenFile: string, keys: readonly string[]): Promise<NginxPeer | undefined> {
  const bin = args['no-nginx'] ? undefined : nginxBinary();
  if (!bin) {
    notes.push(args['no-nginx'] ? 'nginx reference skipped (--no-nginx)' : 'nginx is not installed (apt-get install -y nginx-light): reference skipped');
    return undefined;
  }
  try {
    const nginx = await startNginx(bin, upstreamPort, keys, readFileSync(tokenFile, 'utf8').trim());
    track(nginx.child);
    return nginx;
  } catch (e) {
    notes.push(`nginx did not start, reference skipped: ${(e as Error).message.slice(0, 300)}`);
    return undefined;
  }
}

/** The keygate that holds all `keyCount` keys: its start-up, RSS under load, and the reload. */
async function bigKeygate(origin: string, generated: GeneratedKeys, ctx: BenchContext): Promise<{ kg: KeygatePeer; keysFile: string; startupMs: number; rssAtStart?: number; peakAtStart?: number; rssAfterLoad?: number }> {
  const timeoutMs = Math.max(60_000, deadline - performance.now());
  log(`starting keygate with ${keyCount.toLocaleString('en')} keys (${(generated.yaml().length / 1e6).toFixed(1)} MB keys file)`);
  const big = await startKeygateWith('keygate (all keys)', origin, generated.yaml(), { accessLog: true, timeoutMs });
  const atStart = memoryMiB(big.kg.child.pid);
  log(`started in ${(big.kg.startupMs / 1000).toFixed(1)} s; RSS ${atStart?.rss.toFixed(0)} MiB (peak ${atStart?.peak.toFixed(0)} MiB)`);
  await closedLoop({ url: `${big.kg.proxy}/compute${PATHS.small}`, headers: bearer(ctx.keys.reader), connections: ctx.connections, durationS: 1, expectStatus: 200 });
  return { ...big, startupMs: big.kg.startupMs, rssAtStart: atStart?.rss, peakAtStart: atStart?.peak, rssAfterLoad: memoryMiB(big.kg.child.pid)?.rss };
}

function profileSummary(skipMs: number): HotFunction[] | undefined {
  const files = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile'));
  return files[0] ? topSelfTime(join(PROFILE_DIR, files[0]), 25, skipMs) : undefined;
}

async function main(): Promise<number> {
  const info = { date: new Date().toISOString(), mode: quick ? 'quick' : 'full', keys: keyCount, nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))) };
  log(`keygate bench (${info.mode}): ${info.nproc} CPUs, node ${process.version}, load average ${info.loadavgAtStart.join(' ')}`);
  if (!args['no-build'] && buildIfStale(REPO)) log('dist/ was older than src/: rebuilt');

  const upstream = await startNodePeer('upstream', 'upstream.ts');
  const origin = `http://127.0.0.1:${upstream.port}`;
  const generated = generateKeys(keyCount);
  const serveYaml = generated.yaml(serveKeys);
  const nodeFlags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  if (args.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    for (const f of readdirSync(PROFILE_DIR)) if (f.endsWith('.cpuprofile')) rmSync(join(PROFILE_DIR, f));
  }
  const [bare, barePipeline, withLog, noLog] = await Promise.all([
    startNodePeer('bare forwarder', 'forwarder.ts', origin),
    startNodePeer('bare forwarder (stream.pipeline)', 'forwarder.ts', origin, 'pipeline'),
    startKeygateWith('keygate', origin, serveYaml, { accessLog: true, timeoutMs: 60_000, nodeFlags }),
    startKeygateWith('keygate (access log off)', origin, serveYaml, { accessLog: false, timeoutMs: 60_000 }),
  ]);
  const kg = withLog.kg;
  log(`keygates started with ${serveKeys.toLocaleString('en')} keys in ${(kg.startupMs / 1000).toFixed(1)} s`);
  const nginx = await maybeNginx(upstream.port, join(REPO, 'config/secrets/compute.token'), [...generated.all.slice(0, serveKeys), DEMO_KEYS.monitoring.key]);

  const ctx: BenchContext = {
    quick,
    rounds: Number(args.rounds ?? 3),
    headlineRounds: Number(args.rounds ?? (quick ? 3 : 4)),
    connections: Number(args.connections ?? 32),
    rate: Number(args.rate ?? 200),
    seconds: quick
      ? { smallGet: 0.6, wrk: 1, transfer: 0.5, paced: 0.8, reloadWindow: 1.5, warmup: 0.3 }
      : { smallGet: 1, wrk: 1, transfer: 0.8, paced: 1.5, reloadWindow: 3, warmup: 0.6 },
    peers: {
      bare: { name: 'bare', url: (p) => `http://127.0.0.1:${bare.port}${p}`, pids: () => [bare.child.pid], mainPid: bare.child.pid },
      barePipeline: { name: 'bare with stream.pipeline', url: (p) => `http://127.0.0.1:${barePipeline.port}${p}`, pids: () => [barePipeline.child.pid], mainPid: barePipeline.child.pid },
      keygate: keygatePeer('keygate', kg),
      keygateNoLog: keygatePeer('keygate, access log off', noLog.kg),
      ...(nginx ? { nginx: { name: 'nginx', url: (p: string) => `${nginx.url}/compute${p}`, pids: () => nginx.pids(), mainPid: nginx.child.pid } } : {}),
    },
    keys: { reader: generated.all[0], writer: DEMO_KEYS.deploy.key, unknown: unknownKey() },
    notes,
  };
  const useWrk = !quick && !args['no-wrk'] && wrkAvailable();
  if (!useWrk) notes.push(quick ? 'wrk rows are in the full run only' : args['no-wrk'] ? 'wrk skipped (--no-wrk)' : 'wrk is not installed (apt-get install -y wrk): wrk rows skipped');

  const scenarios: ScenarioResult[] = [];
  const run = async (label: string, fn: () => Promise<ScenarioResult>): Promise<void> => {
    log(label);
    const s = await fn();
    scenarios.push(s);
    checkErrors(s);
    process.stdout.write(`\n${textTable(s)}\n`);
  };
  log('warming up');
  await warmUp(ctx);
  await run('small GET, 401 and 403 (autocannon)', () => smallGet(ctx));
  if (useWrk) await run('small GET (wrk)', () => smallGetWrk(ctx));
  await run('64 KiB response', () => bigResponse(ctx));
  await run('1 MiB upload', () => upload(ctx));
  await run(`moderate fixed rate (${ctx.rate} req/s)`, () => moderateRate(ctx));
  await run('unknown-key flood', () => unknownKeyFlood(ctx));

  let decision: DecisionResult = { ran: false, note: 'skipped in --quick (npm run bench:policy runs it alone)' };
  if (!quick) {
    log('decision microbenchmark (bench/policy.ts)');
    decision = await decisionMicrobench(45_000);
    process.stdout.write(decision.table ? `\ndecision microbenchmark (bench/policy.ts)\n${decision.table}\n` : `\ndecision microbenchmark: ${decision.note}\n`);
  }

  // Done with these: stop them so the start-up and reload with all keys have the machine.
  for (const c of [noLog.kg, ...(keyCount > serveKeys ? [kg] : [])]) await c.stop();
  await nginx?.stop();
  const big = keyCount > serveKeys ? await bigKeygate(origin, generated, ctx) : { kg, keysFile: withLog.keysFile, startupMs: kg.startupMs, rssAtStart: undefined, peakAtStart: undefined, rssAfterLoad: memoryMiB(kg.child.pid)?.rss };
  log(`reload of the ${keyCount.toLocaleString('en')}-key file under load`);
  const reload: ReloadResult = await reloadUnderLoad(ctx, {
    keygate: big.kg,
    peer: keygatePeer('keygate', big.kg),
    keysFile: big.keysFile,
    keysYaml: generated.yaml(),
    keyCount,
    reloadDeadlineMs: quick ? 15_000 : 60_000,
    budgetEndMs: deadline,
    minWaitMs: quick ? 8_000 : 20_000,
  });
  if (reload.skipped) process.stdout.write(`\nreload: skipped: ${reload.skipped}\n`);
  else {
    process.stdout.write(`\n${textTable(reload)}\n`);
    scenarios.push(reload);
    checkErrors(reload);
  }
  await big.kg.stop();
  await kg.stop();
  await bare.child.stop();
  await barePipeline.child.stop();
  await upstream.child.stop();
  const profile = args.profile ? profileSummary(kg.startupMs + 1_000) : undefined;

  const targets = evaluateTargets({ scenarios, keyCount, rssMiB: big.rssAfterLoad, reload });
  const seconds = (performance.now() - started) / 1000;
  const result = {
    ...info,
    loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
    seconds: Number(seconds.toFixed(1)),
    settings: { rounds: ctx.rounds, headlineRounds: ctx.headlineRounds, connections: ctx.connections, rate: ctx.rate, seconds: ctx.seconds, serveKeys, wrk: useWrk, nginx: Boolean(nginx) },
    keygate: {
      keys: keyCount,
      startupMs: Math.round(big.startupMs),
      rssAtStartMiB: big.rssAtStart && Math.round(big.rssAtStart),
      peakAtStartMiB: big.peakAtStart && Math.round(big.peakAtStart),
      rssAfterLoadMiB: big.rssAfterLoad && Math.round(big.rssAfterLoad),
      rssAfterReloadMiB: reload.rssAfterMiB && Math.round(reload.rssAfterMiB),
      peakAfterReloadMiB: reload.peakMiB && Math.round(reload.peakMiB),
    },
    targets,
    scenarios: Object.fromEntries(scenarios.map((s) => [s.id, withoutSamples(s)])),
    reload: { skipped: reload.skipped, reloadMs: reload.reloadMs },
    decision: { ran: decision.ran, note: decision.note, seconds: decision.seconds, json: decision.json },
    ...(profile ? { profile } : {}),
    notes,
    broken,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  // A --quick run never overwrites the full run's record.
  const base = quick ? 'latest-quick' : 'latest';
  writeFileSync(join(RESULTS_DIR, `${base}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${base}.md`), markdownReport(result, scenarios, targets, decision.table));

  const k = result.keygate;
  process.stdout.write(`\nkeygate with ${keyCount.toLocaleString('en')} keys: started in ${(k.startupMs / 1000).toFixed(1)} s; RSS ${k.rssAtStartMiB ?? '-'} MiB at start (peak ${k.peakAtStartMiB ?? '-'}), ${k.rssAfterLoadMiB} MiB after 1 s of load, ${k.rssAfterReloadMiB ?? '-'} MiB after the reload (peak ${k.peakAfterReloadMiB ?? '-'})\n`);
  if (profile) process.stdout.write(`\nkeygate CPU profile (serving only), top self time:\n${profile.map((h) => `  ${String(h.selfPct).padStart(5)}%  ${h.name}  ${h.where}`).join('\n')}\n`);
  process.stdout.write(`\n${targetsText(targets)}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`\n${seconds.toFixed(0)} s; results in bench/results/${base}.json and ${base}.md\n`);
  if (broken.length) {
    process.stderr.write(`\nBROKEN RUN:\n${broken.map((b) => `  ${b}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

/** Per-round summaries stay in the JSON; per-request samples were never kept. */
function withoutSamples(s: ScenarioResult): ScenarioResult {
  const cases = Object.fromEntries(
    Object.entries(s.cases).map(([n, c]) => [n, { ...c, rounds: c.rounds.map((r) => ({ ...r, rps: Math.round(r.rps) })) }]),
  );
  return { ...s, cases };
}

// process.exit, not exitCode: a load generator's leftover socket or timer must not keep
// a finished bench alive; the 'exit' hook above kills any child still running.
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`\nBROKEN RUN: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
