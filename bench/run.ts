/**
 * keygate against a bare undici forwarder, nginx, HAProxy and Caddy, in one run.
 *
 *   npm run bench                 # about 4 minutes: the per-stage table, then the rest
 *   npm run bench -- --quick      # about 1 minute: the per-stage table alone, 3 rounds
 *   npm run bench -- --only stages  # the per-stage table alone, full rounds
 *
 * Options: --keys N (keys for RSS and reload; default 100,000), --rounds N,
 * --stage-rounds N, --slice S (seconds per stage-table slice), --rate R (req/s of the
 * latency scenarios), --connections C, --no-peers (no nginx/HAProxy/Caddy), --no-nginx,
 * --no-install (do not apt-get missing peers), --no-wrk, --no-build, --profile (node
 * --cpu-prof on keygate; the top self-time functions are printed and saved).
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
import { ensureDebianTool } from './lib/debian.js';
import { generateKeys, unknownKey, type GeneratedKeys } from './lib/keys.js';
import { childPids, memoryMiB } from './lib/proc.js';
import { closedLoop } from './load/autocannon.js';
import {
  BENCH_KEYS_FILE,
  freeListenPorts,
  prepareConfig,
  REPO,
  startKeygate,
  type KeygatePeer,
  type StartKeygateOptions,
} from './peers/keygate.js';
import { startCaddy } from './peers/caddy.js';
import { startHaproxy } from './peers/haproxy.js';
import { startNginx } from './peers/nginx.js';
import type { ReferencePeer, ReferenceSetup } from './peers/reference.js';
import {
  evaluateTargets,
  markdownReport,
  stagesMarkdown,
  stagesText,
  stageTargets,
  targetsText,
  textTable,
  type TargetResult,
} from './report.js';
import { bearer, PATHS, type BenchContext } from './scenarios/context.js';
import { decisionMicrobench, type DecisionResult } from './scenarios/decision.js';
import type { Peer, ScenarioResult } from './scenarios/harness.js';
import { moderateRate, unknownKeyFlood } from './scenarios/latency.js';
import { reloadUnderLoad, type ReloadResult } from './scenarios/reload.js';
import { inProcessStages } from './micro/inProcess.js';
import { KEYGATE_VARIANTS, stageTable, type StagesResult, type StageTarget } from './scenarios/stages.js';
import { bigResponse, smallGet, upload, warmUp } from './scenarios/throughput.js';

const RESULTS_DIR = join(REPO, 'bench/results');
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');
/** Keys loaded by the keygates that serve the throughput scenarios (per-request cost does not grow with it). */
const SERVE_KEYS = 10_000;
/** Keys in the references' maps (the issue's nginx row: a 1,000-key map). */
const REFERENCE_KEYS = 1_000;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    keys: { type: 'string' },
    rounds: { type: 'string' },
    'stage-rounds': { type: 'string' },
    slice: { type: 'string' },
    rate: { type: 'string' },
    connections: { type: 'string' },
    'no-peers': { type: 'boolean', default: false },
    'no-nginx': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    'no-wrk': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const quick = args.quick ?? false;
if (args.only !== undefined && args.only !== 'stages') throw new Error(`--only takes "stages", not ${args.only}`);
const stagesOnly = quick || args.only === 'stages';
const keyCount = Number(args.keys ?? (stagesOnly ? 10_000 : 100_000));
/** --quick and --only stages: 1,000 keys (the issue's decision target is at 1,000 keys) start seven keygates faster. */
const serveKeys = stagesOnly ? Math.min(keyCount, 1_000) : Math.min(keyCount, SERVE_KEYS);
const budgetS = stagesOnly ? 150 : 300;
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

async function startNodePeer(name: string, file: string, ...rest: string[]): Promise<{ child: Child; port: number; peer: Peer }> {
  const child = track(startChild(name, process.execPath, ['--import', 'tsx', join(REPO, 'bench/peers', file), ...rest]));
  const line = await waitForLine(child, (l) => l.includes('"started"'), 60_000);
  const port = (JSON.parse(line) as { port: number }).port;
  return { child, port, peer: { name, url: (p) => `http://127.0.0.1:${port}${p}`, pids: () => [child.pid], mainPid: child.pid } };
}

/** keygate's CPU is its process's and, with --workers, its workers' too. */
function keygatePeer(name: string, kg: KeygatePeer): Peer {
  return { name, url: (p) => `${kg.proxy}/compute${p}`, pids: () => [kg.child.pid, ...childPids(kg.child.pid)], mainPid: kg.child.pid };
}

interface KeygateStart extends Omit<StartKeygateOptions, 'onSpawn' | 'ports'> {
  readonly accessLog?: boolean;
  readonly editMain?: (main: string) => string;
  readonly editPolicy?: (policy: string) => string;
}

async function startKeygateWith(
  name: string,
  origin: string,
  keysYaml: string,
  o: KeygateStart,
): Promise<{ kg: KeygatePeer; keysFile: string }> {
  const ports = o.log && o.log !== 'pipe' ? await freeListenPorts() : undefined;
  const cfg = prepareConfig({
    upstream: origin,
    keysYaml,
    accessLog: o.accessLog ?? true,
    ...(ports ? { ports } : {}),
    ...(o.editMain ? { editMain: o.editMain } : {}),
    ...(o.editPolicy ? { editPolicy: o.editPolicy } : {}),
  });
  const kg = await startKeygate(name, cfg.mainFile, cfg.dir, { ...o, onSpawn: track, ...(ports ? { ports } : {}) });
  return { kg, keysFile: join(cfg.dir, BENCH_KEYS_FILE) };
}

function brokenBecause(why: string): void {
  if (!broken.includes(why)) broken.push(why);
}

function checkErrors(s: ScenarioResult): void {
  for (const [name, c] of Object.entries(s.cases)) {
    if (c.errorRate > 0.01)
      brokenBecause(`${s.id} / ${name}: ${c.errors} errors (${(c.errorRate * 100).toFixed(1)}%), statuses ${JSON.stringify(c.statuses)}`);
  }
  for (const c of children) if (!c.alive() && !c.stopping) brokenBecause(`${c.name} exited during ${s.id}`);
}

const REFERENCES = [
  { id: 'nginx', binary: 'nginx', pkg: 'nginx-light', start: startNginx },
  { id: 'haproxy', binary: 'haproxy', pkg: 'haproxy', start: startHaproxy },
  { id: 'caddy', binary: 'caddy', pkg: 'caddy', start: startCaddy },
] as const;

/** nginx, HAProxy and Caddy, each installed from Debian when missing (unless --no-install). */
async function startReferences(setup: Omit<ReferenceSetup, 'binary'>): Promise<Map<string, ReferencePeer>> {
  const out = new Map<string, ReferencePeer>();
  if (args['no-peers']) {
    notes.push('nginx, HAProxy and Caddy skipped (--no-peers)');
    return out;
  }
  for (const ref of REFERENCES) {
    if (ref.id === 'nginx' && args['no-nginx']) {
      notes.push('nginx skipped (--no-nginx)');
      continue;
    }
    const binary = ensureDebianTool(ref.binary, ref.pkg, notes, !args['no-install']);
    if (!binary) continue;
    try {
      const peer = await ref.start({ ...setup, binary });
      track(peer.child);
      out.set(ref.id, peer);
    } catch (e) {
      notes.push(`${ref.id} did not start, its rows are skipped: ${(e as Error).message.slice(0, 300)}`);
    }
  }
  return out;
}

/** The keygate that holds all `keyCount` keys: its start-up, RSS under load, and the reload. */
async function bigKeygate(
  origin: string,
  generated: GeneratedKeys,
  ctx: BenchContext,
): Promise<{ kg: KeygatePeer; keysFile: string; startupMs: number; rssAtStart?: number; peakAtStart?: number; rssAfterLoad?: number }> {
  const timeoutMs = Math.max(60_000, deadline - performance.now());
  log(`starting keygate with ${keyCount.toLocaleString('en')} keys (${(generated.yaml().length / 1e6).toFixed(1)} MB keys file)`);
  const big = await startKeygateWith('keygate (all keys)', origin, generated.yaml(), { timeoutMs });
  const atStart = memoryMiB(big.kg.child.pid);
  log(`started in ${(big.kg.startupMs / 1000).toFixed(1)} s; RSS ${atStart?.rss.toFixed(0)} MiB (peak ${atStart?.peak.toFixed(0)} MiB)`);
  await closedLoop({
    url: `${big.kg.proxy}/compute${PATHS.small}`,
    headers: bearer(ctx.keys.reader),
    connections: ctx.connections,
    durationS: 1,
    expectStatus: 200,
  });
  return {
    ...big,
    startupMs: big.kg.startupMs,
    rssAtStart: atStart?.rss,
    peakAtStart: atStart?.peak,
    rssAfterLoad: memoryMiB(big.kg.child.pid)?.rss,
  };
}

function profileSummary(skipMs: number): HotFunction[] | undefined {
  const files = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile'));
  return files[0] ? topSelfTime(join(PROFILE_DIR, files[0]), 25, skipMs) : undefined;
}

/** The references' key list, the bench key in the middle (Caddy's header matcher scans its list in order). */
function referenceKeys(all: readonly string[], benchKey: string): string[] {
  const others = all.filter((k) => k !== benchKey).slice(0, REFERENCE_KEYS - 1);
  const mid = others.length >> 1;
  return [...others.slice(0, mid), benchKey, ...others.slice(mid)];
}

async function main(): Promise<number> {
  const mode = quick ? 'quick' : stagesOnly ? 'stages' : 'full';
  const info = {
    date: new Date().toISOString(),
    mode,
    keys: keyCount,
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
  log(`keygate bench (${info.mode}): ${info.nproc} CPUs, node ${process.version}, load average ${info.loadavgAtStart.join(' ')}`);
  if (!args['no-build'] && buildIfStale(REPO)) log('dist/ was older than src/: rebuilt');

  const upstream = await startNodePeer('upstream', 'upstream.ts');
  const origin = `http://127.0.0.1:${upstream.port}`;
  const generated = generateKeys(keyCount);
  const serveYaml = generated.yaml(serveKeys);
  // Before any peer runs, so only the machine's other tenants share the CPU with it.
  log('per-stage cost in-process (bench/micro/inProcess.ts)');
  const inProcess = await inProcessStages({ keysYaml: serveYaml, key: generated.all[0], ...(quick ? { batches: 5 } : {}) });
  const nodeFlags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  if (args.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    for (const f of readdirSync(PROFILE_DIR)) if (f.endsWith('.cpuprofile')) rmSync(join(PROFILE_DIR, f));
  }
  const useWrk = !args['no-wrk'] && ensureDebianTool('wrk', 'wrk', notes, !args['no-install']) !== undefined;
  if (!useWrk) notes.push('stage table driven by autocannon (in the bench process) instead of wrk');

  log(`starting the bare peers and ${KEYGATE_VARIANTS.length} keygate variants with ${serveKeys.toLocaleString('en')} keys`);
  const [bare, barePipeline, bare200, ...kgs] = await Promise.all([
    startNodePeer('bare forwarder', 'forwarder.ts', origin),
    startNodePeer('bare forwarder (stream.pipeline)', 'forwarder.ts', origin, 'pipeline'),
    startNodePeer('bare node:http 200', 'answer200.ts'),
    ...KEYGATE_VARIANTS.map((v) =>
      startKeygateWith(v.name, origin, serveYaml, {
        timeoutMs: 90_000,
        unbundled: true,
        ...(v.id === 'all_on' ? { nodeFlags } : {}),
        ...(v.accessLog === false ? { accessLog: false } : {}),
        ...(v.log ? { log: v.log } : {}),
        ...(v.knockouts ? { knockouts: v.knockouts } : {}),
        ...(v.editMain ? { editMain: v.editMain } : {}),
        ...(v.editPolicy ? { editPolicy: v.editPolicy } : {}),
        ...(v.serveArgs ? { serveArgs: v.serveArgs } : {}),
      }),
    ),
  ]);
  const variants = new Map(KEYGATE_VARIANTS.map((v, i) => [v.id, kgs[i]]));
  const kg = variants.get('all_on')!.kg;
  const noLog = variants.get('log_off')!.kg;
  log(`keygates started in ${(kg.startupMs / 1000).toFixed(1)} s`);
  const refs = await startReferences({
    upstreamPort: upstream.port,
    keys: referenceKeys([...generated.all.slice(0, serveKeys), DEMO_KEYS.monitoring.key], generated.all[0]),
    serviceToken: readFileSync(join(REPO, 'config/secrets/compute.token'), 'utf8').trim(),
  });
  const refPeer = (id: string, r: ReferencePeer): Peer => ({
    name: id,
    url: (p) => `${r.url}/compute${p}`,
    pids: () => r.pids(),
    mainPid: r.child.pid,
  });
  const nginx = refs.get('nginx');

  const ctx: BenchContext = {
    quick,
    rounds: Number(args.rounds ?? 3),
    headlineRounds: Number(args.rounds ?? 4),
    connections: Number(args.connections ?? 32),
    rate: Number(args.rate ?? 200),
    seconds: { smallGet: 1, wrk: 1, transfer: 0.8, paced: 1.5, reloadWindow: 3, warmup: 0.6 },
    peers: {
      bare: bare.peer,
      barePipeline: { ...barePipeline.peer, name: 'bare with stream.pipeline' },
      keygate: keygatePeer('keygate', kg),
      keygateNoLog: keygatePeer('keygate, access log off', noLog),
      ...(nginx ? { nginx: refPeer('nginx', nginx) } : {}),
    },
    keys: { reader: generated.all[0], writer: DEMO_KEYS.deploy.key, unknown: unknownKey() },
    notes,
  };

  const scenarios: ScenarioResult[] = [];
  const run = async (label: string, fn: () => Promise<ScenarioResult>): Promise<void> => {
    log(label);
    const s = await fn();
    scenarios.push(s);
    checkErrors(s);
    process.stdout.write(`\n${textTable(s)}\n`);
  };
  log('warming up');
  for (const [id, v] of variants)
    await closedLoop({
      url: `${v.kg.proxy}/compute${PATHS.small}`,
      headers: bearer(ctx.keys.reader),
      connections: ctx.connections,
      durationS: ctx.seconds.warmup,
      expectStatus: 200,
    }).catch((e: unknown) => brokenBecause(`warm-up of ${id}: ${String(e)}`));
  await warmUp(ctx);

  const stagePeers = new Map<string, StageTarget>([
    ['bare', { peer: bare.peer }],
    ['bare_200', { peer: bare200.peer }],
    ...[...refs].map(([id, r]): [string, StageTarget] => [id, { peer: refPeer(id, r) }]),
    ...[...variants].map(([id, v]): [string, StageTarget] => [
      id,
      { peer: keygatePeer(id, v.kg), ...(v.kg.check ? { check: v.kg.check } : {}) },
    ]),
  ]);
  const stageRounds = Number(args['stage-rounds'] ?? (quick ? 3 : 6));
  const sliceS = Number(args.slice ?? 1);
  log(`per-stage table: ${stagePeers.size} peers, ${sliceS} s slices x ${stageRounds} rounds`);
  const stagesEndToEnd: StagesResult = await stageTable({
    peers: stagePeers,
    keys: { allowed: ctx.keys.reader, unknown: ctx.keys.unknown },
    rounds: stageRounds,
    sliceS,
    connections: 64,
    useWrk,
    notes,
  });
  const stages: StagesResult = { ...stagesEndToEnd, inProcess };
  checkErrors(stages);
  process.stdout.write(`\n${stagesText(stages)}\n`);

  // The references and the knockout variants are done: the rest of the run has the machine.
  // nginx stays: the latency scenarios below compare keygate with it.
  for (const [id, r] of refs) if (id !== 'nginx') await r.stop();
  for (const [id, v] of variants) if (id !== 'all_on' && id !== 'log_off') await v.kg.stop();
  await bare200.child.stop();

  let decision: DecisionResult = { ran: false, note: 'skipped with --quick and --only stages (npm run bench:policy runs it alone)' };
  let reload: ReloadResult | undefined;
  let big: Awaited<ReturnType<typeof bigKeygate>> | undefined;
  if (!stagesOnly) {
    await run('small GET, 401 and 403 (autocannon)', () => smallGet(ctx));
    await run('64 KiB response', () => bigResponse(ctx));
    await run('1 MiB upload', () => upload(ctx));
    await run(`moderate fixed rate (${ctx.rate} req/s)`, () => moderateRate(ctx));
    await run('unknown-key flood', () => unknownKeyFlood(ctx));
    log('decision microbenchmark (bench/policy.ts)');
    decision = await decisionMicrobench(45_000);
    process.stdout.write(
      decision.table ? `\ndecision microbenchmark (bench/policy.ts)\n${decision.table}\n` : `\ndecision microbenchmark: ${decision.note}\n`,
    );
    await noLog.stop();
    if (keyCount > serveKeys) await kg.stop();
    big =
      keyCount > serveKeys
        ? await bigKeygate(origin, generated, ctx)
        : {
            kg,
            keysFile: variants.get('all_on')!.keysFile,
            startupMs: kg.startupMs,
            rssAtStart: undefined,
            peakAtStart: undefined,
            rssAfterLoad: memoryMiB(kg.child.pid)?.rss,
          };
    log(`reload of the ${keyCount.toLocaleString('en')}-key file under load`);
    reload = await reloadUnderLoad(ctx, {
      keygate: big.kg,
      peer: keygatePeer('keygate', big.kg),
      keysFile: big.keysFile,
      keysYaml: generated.yaml(),
      keyCount,
      reloadDeadlineMs: 60_000,
      budgetEndMs: deadline,
      minWaitMs: 20_000,
    });
    if (reload.skipped) process.stdout.write(`\nreload: skipped: ${reload.skipped}\n`);
    else {
      process.stdout.write(`\n${textTable(reload)}\n`);
      scenarios.push(reload);
      checkErrors(reload);
    }
    await big.kg.stop();
  }
  for (const v of variants.values()) await v.kg.stop();
  await bare.child.stop();
  await barePipeline.child.stop();
  await nginx?.stop();
  await upstream.child.stop();
  const profile = args.profile ? profileSummary(kg.startupMs + 1_000) : undefined;

  const targets: TargetResult[] = [
    ...stageTargets(stages),
    ...(stagesOnly ? [] : evaluateTargets({ scenarios, keyCount, rssMiB: big?.rssAfterLoad, ...(reload ? { reload } : {}) })),
  ];
  const seconds = (performance.now() - started) / 1000;
  const result = {
    ...info,
    loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
    seconds: Number(seconds.toFixed(1)),
    settings: {
      rounds: ctx.rounds,
      headlineRounds: ctx.headlineRounds,
      stageRounds,
      sliceS,
      connections: ctx.connections,
      rate: ctx.rate,
      seconds: ctx.seconds,
      serveKeys,
      wrk: useWrk,
      references: [...refs.keys()],
    },
    keygate: {
      keys: keyCount,
      startupMs: Math.round(big?.startupMs ?? kg.startupMs),
      rssAtStartMiB: big?.rssAtStart && Math.round(big.rssAtStart),
      peakAtStartMiB: big?.peakAtStart && Math.round(big.peakAtStart),
      rssAfterLoadMiB: big?.rssAfterLoad && Math.round(big.rssAfterLoad),
      rssAfterReloadMiB: reload?.rssAfterMiB && Math.round(reload.rssAfterMiB),
      peakAfterReloadMiB: reload?.peakMiB && Math.round(reload.peakMiB),
    },
    targets,
    stages: { ...withoutSamples(stages), stages: stages.stages, rows: stages.rows, inProcess },
    scenarios: Object.fromEntries(scenarios.map((s) => [s.id, withoutSamples(s)])),
    reload: { skipped: reload?.skipped, reloadMs: reload?.reloadMs },
    decision: { ran: decision.ran, note: decision.note, seconds: decision.seconds, json: decision.json },
    ...(profile ? { profile } : {}),
    notes,
    broken,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  // A --quick or --only run never overwrites the full run's record.
  const base = stagesOnly ? `latest-${mode}` : 'latest';
  writeFileSync(join(RESULTS_DIR, `${base}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${base}.md`), markdownReport(result, scenarios, targets, decision.table, stagesMarkdown(stages)));

  if (!stagesOnly) {
    const k = result.keygate;
    process.stdout.write(
      `\nkeygate with ${keyCount.toLocaleString('en')} keys: started in ${(k.startupMs / 1000).toFixed(1)} s; RSS ${k.rssAtStartMiB ?? '-'} MiB at start (peak ${k.peakAtStartMiB ?? '-'}), ${k.rssAfterLoadMiB} MiB after 1 s of load, ${k.rssAfterReloadMiB ?? '-'} MiB after the reload (peak ${k.peakAfterReloadMiB ?? '-'})\n`,
    );
  }
  if (profile)
    process.stdout.write(
      `\nkeygate CPU profile (serving only), top self time:\n${profile.map((h) => `  ${String(h.selfPct).padStart(5)}%  ${h.name}  ${h.where}`).join('\n')}\n`,
    );
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
  return { id: s.id, title: s.title, cases, ...(s.notes ? { notes: s.notes } : {}) };
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
