/**
 * A/B: a few rows at a time, quietly, for a before/after of one change.
 *
 *   npm run bench:ab                                   # bare, keygate, access log off, decision API, bare 200, Caddy
 *   npm run bench:ab -- --base /tmp/kg-before          # + the same rows from another build (its bin/ + dist/)
 *   npm run bench:ab -- --rows bare,all_on,base_all_on --rounds 8 --slice 2
 *   npm run bench:ab -- --rows check_401 --profile    # node --cpu-prof of the keygate, top self time
 *   npm run bench:ab -- --base . --base-node-flag=--max-semi-space-size=4 --rows all_on,base_all_on
 *                                                      # the same build with a node flag added to the base rows
 *
 * Every measured process is pinned to CPU 0 (`taskset -a`), wrk, the upstream and the log
 * drain to CPU 1, so a measured peer never shares its core with the load it serves; rows
 * rotate `--slice` s wrk slices (`-t1 -c64`) for `--rounds` rounds, and each comparison is
 * the median over rounds of the paired per-round difference in CPU µs/request (the method
 * of the stage table, with fewer rows: fewer processes, less cache pressure between them).
 * On a 2-core machine shared with other work read the differences, not the absolutes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildIfStale } from './lib/build.js';
import { sleep, startChild, waitForLine, type Child } from './lib/child.js';
import { topSelfTime } from './lib/cpuprofile.js';
import { ensureDebianTool } from './lib/debian.js';
import { generateKeys, unknownKey } from './lib/keys.js';
import { median } from './lib/stats.js';
import type { LoadResult } from './load/result.js';
import { wrk } from './load/wrk.js';
import { startCaddy } from './peers/caddy.js';
import { freeListenPorts, prepareConfig, REPO, startKeygate, type KeygatePeer, type LogSink } from './peers/keygate.js';
import { PATHS } from './scenarios/context.js';
import { alternate, measure, type Case, type CaseSummary, type Peer } from './scenarios/harness.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    /** Node flags the base_* rows' keygate runs with on top of the image's (for a flag's A/B: `--base .`). */
    'base-node-flag': { type: 'string', multiple: true, default: [] },
    rows: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    slice: { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    keys: { type: 'string', default: '1000' },
    profile: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    strace: { type: 'boolean', default: false },
  },
});

type RowKind = 'proxy' | 'proxy_401' | 'check' | 'check_401' | 'plain';
interface RowDef {
  readonly peer: string;
  readonly kind: RowKind;
}

/** Rows by id; `base_*` rows need --base. */
const ROW_DEFS: Record<string, RowDef> = {
  bare: { peer: 'bare', kind: 'proxy' },
  bare_200: { peer: 'bare_200', kind: 'plain' },
  caddy: { peer: 'caddy', kind: 'proxy' },
  all_on: { peer: 'kg', kind: 'proxy' },
  all_on_401: { peer: 'kg', kind: 'proxy_401' },
  log_off: { peer: 'kg_log_off', kind: 'proxy' },
  log_file: { peer: 'kg_log_file', kind: 'proxy' },
  check_allow: { peer: 'kg', kind: 'check' },
  check_401: { peer: 'kg', kind: 'check_401' },
  base_all_on: { peer: 'base', kind: 'proxy' },
  base_all_on_401: { peer: 'base', kind: 'proxy_401' },
  base_log_off: { peer: 'base_log_off', kind: 'proxy' },
  base_log_file: { peer: 'base_log_file', kind: 'proxy' },
  base_check_allow: { peer: 'base', kind: 'check' },
  base_check_401: { peer: 'base', kind: 'check_401' },
};
const DEFAULT_ROWS = ['bare', 'all_on', 'log_off', 'check_allow', 'check_401', 'bare_200', 'caddy'];
/** Differences printed when both rows ran: [minuend, subtrahend]. */
const DIFFS: readonly [string, string][] = [
  ['all_on', 'bare'],
  ['log_off', 'bare'],
  ['all_on', 'log_off'],
  ['log_file', 'log_off'],
  ['log_file', 'base_log_file'],
  ['all_on', 'caddy'],
  ['check_allow', 'bare_200'],
  ['check_401', 'bare_200'],
  ['all_on', 'base_all_on'],
  ['all_on_401', 'base_all_on_401'],
  ['log_off', 'base_log_off'],
  ['check_allow', 'base_check_allow'],
  ['check_401', 'base_check_401'],
  ['base_all_on', 'bare'],
];

const PEER_CPU = 0;
const LOAD_CPU = 1;
const pin = !args['no-pin'];
const children = new Set<Child>();
process.once('exit', () => {
  for (const c of children) if (c.alive()) c.proc.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

function log(msg: string): void {
  process.stderr.write(`[ab] ${msg}\n`);
}

function track<T extends Child>(c: T): T {
  children.add(c);
  return c;
}

/** Every thread of `pid` onto `cpu` (threads started later inherit it). */
function pinTo(pid: number, cpu: number): void {
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

async function nodePeer(
  name: string,
  file: string,
  cpu: number,
  flags: readonly string[],
  ...rest: string[]
): Promise<Peer & { child: Child; port: number }> {
  const child = track(startChild(name, process.execPath, [...flags, '--import', 'tsx', join(REPO, 'bench/peers', file), ...rest]));
  const port = (JSON.parse(await waitForLine(child, (l) => l.includes('"started"'), 60_000)) as { port: number }).port;
  pinTo(child.pid, cpu);
  return { child, port, name, url: (p) => `http://127.0.0.1:${port}${p}`, pids: () => [child.pid], mainPid: child.pid };
}

async function keygate(
  name: string,
  bin: string,
  origin: string,
  keysYaml: string,
  accessLog: boolean,
  flags: string[],
  log: LogSink = 'pipe',
  knockouts: readonly string[] = [],
): Promise<KeygatePeer> {
  const ports = log === 'pipe' ? undefined : await freeListenPorts();
  const cfg = prepareConfig({ upstream: origin, keysYaml, accessLog, ...(ports ? { ports } : {}) });
  const kg = await startKeygate(name, cfg.mainFile, cfg.dir, {
    bin,
    timeoutMs: 90_000,
    onSpawn: track,
    nodeFlags: flags,
    log,
    knockouts,
    ...(ports ? { ports } : {}),
  });
  pinTo(kg.child.pid, PEER_CPU);
  if (kg.drain) pinTo(kg.drain.pid, LOAD_CPU);
  return kg;
}

async function main(): Promise<void> {
  const rows = (args.rows ?? DEFAULT_ROWS.join(',')).split(',').filter(Boolean);
  for (const r of rows) if (r.startsWith('ko_')) ROW_DEFS[r] = { peer: r, kind: 'proxy' };
  for (const r of rows) if (!(r in ROW_DEFS)) throw new Error(`unknown row ${r}; rows: ${Object.keys(ROW_DEFS).join(', ')}, ko_<knockout>`);
  const needs = new Set(rows.map((r) => ROW_DEFS[r].peer));
  if ([...needs].some((p) => p.startsWith('base')) && !args.base)
    throw new Error('base_* rows need --base DIR (a build with bin/ and dist/)');
  if (buildIfStale(REPO)) log('dist/ was older than src/: rebuilt');
  if (!ensureDebianTool('wrk', 'wrk', [], true)) throw new Error('wrk is needed');
  const profileDir = join(REPO, 'bench/results/profiles/ab');
  const flags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (args.profile) {
    mkdirSync(profileDir, { recursive: true });
    for (const f of readdirSync(profileDir)) rmSync(join(profileDir, f));
  }

  const upstream = await nodePeer('upstream', 'upstream.ts', LOAD_CPU, []);
  const origin = `http://127.0.0.1:${upstream.port}`;
  const generated = generateKeys(Number(args.keys));
  const keysYaml = generated.yaml();
  const allowed = generated.all[0];
  const unknown = unknownKey();
  const here = join(REPO, 'bin/keygate.js');
  const base = args.base ? join(args.base, 'bin/keygate.js') : '';
  const baseFlags = args['base-node-flag'];

  const peers = new Map<string, { peer: Peer; check?: string }>();
  const kgPeer = (name: string, kg: KeygatePeer): { peer: Peer; check?: string } => ({
    peer: { name, url: (p) => `${kg.proxy}/compute${p}`, pids: () => [kg.child.pid], mainPid: kg.child.pid },
    ...(kg.check ? { check: kg.check } : {}),
  });
  const starts: Record<string, () => Promise<{ peer: Peer; check?: string }>> = {
    bare: async () => ({ peer: await nodePeer('bare forwarder', 'forwarder.ts', PEER_CPU, flags, origin) }),
    bare_200: async () => ({ peer: await nodePeer('bare 200', 'answer200.ts', PEER_CPU, flags) }),
    kg: async () => kgPeer('keygate', await keygate('keygate', here, origin, keysYaml, true, flags)),
    kg_log_off: async () => kgPeer('keygate log off', await keygate('keygate log off', here, origin, keysYaml, false, [])),
    base: async () => kgPeer('base keygate', await keygate('base keygate', base, origin, keysYaml, true, [...flags, ...baseFlags])),
    base_log_off: async () => kgPeer('base log off', await keygate('base log off', base, origin, keysYaml, false, baseFlags)),
    kg_log_file: async () => kgPeer('keygate log file', await keygate('keygate log file', here, origin, keysYaml, true, [], 'file')),
    base_log_file: async () => kgPeer('base log file', await keygate('base log file', base, origin, keysYaml, true, baseFlags, 'file')),
    caddy: async () => {
      const binary = ensureDebianTool('caddy', 'caddy', [], true);
      if (!binary) throw new Error('caddy is not installed');
      const token = readFileSync(join(REPO, 'config/secrets/compute.token'), 'utf8').trim();
      const c = await startCaddy({ binary, upstreamPort: upstream.port, keys: generated.all, serviceToken: token });
      track(c.child);
      pinTo(c.child.pid, PEER_CPU);
      return { peer: { name: 'caddy', url: (p) => `${c.url}/compute${p}`, pids: c.pids, mainPid: c.child.pid } };
    },
  };
  for (const p of needs) {
    // ko_metrics, ko_decision, …: the everything-on keygate with that bench knockout (peers/knockoutHooks.mjs).
    const knockout = p.startsWith('ko_') ? p.slice(3) : undefined;
    const start = knockout ? async () => kgPeer(p, await keygate(p, here, origin, keysYaml, true, [], 'pipe', [knockout])) : starts[p];
    peers.set(p, await start());
  }
  log(
    `started ${[...needs].join(', ')}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );

  const auth = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
  const original = { 'x-original-uri': `/compute${PATHS.small}`, 'x-original-method': 'GET' };
  const request = (r: RowDef): { url: string; headers: Record<string, string>; expect: number } => {
    const t = peers.get(r.peer)!;
    switch (r.kind) {
      case 'proxy':
        return { url: t.peer.url(PATHS.small), headers: auth(allowed), expect: 200 };
      case 'proxy_401':
        return { url: t.peer.url(PATHS.small), headers: auth(unknown), expect: 401 };
      case 'check':
        return { url: `${t.check}/`, headers: { ...original, ...auth(allowed) }, expect: 200 };
      case 'check_401':
        return { url: `${t.check}/`, headers: { ...original, ...auth(unknown) }, expect: 401 };
      case 'plain':
        return { url: t.peer.url('/'), headers: {}, expect: 200 };
    }
  };
  const sliceS = Number(args.slice);
  const load = (id: string) => (): Promise<LoadResult> => {
    const { url, headers, expect } = request(ROW_DEFS[id]);
    return wrk({
      url,
      headers,
      connections: Number(args.connections),
      durationS: sliceS,
      expectStatus: expect,
      ...(pin ? { cpu: LOAD_CPU } : {}),
    });
  };
  const cases = rows.map((id): Case => ({ name: id, run: () => measure(peers.get(ROW_DEFS[id].peer)!.peer, load(id)) }));
  log('warming up (1 s each)');
  for (const c of cases) await c.run();
  if (args.strace) {
    for (const id of rows) await syscallsPerRequest(id, peers.get(ROW_DEFS[id].peer)!.peer, load(id));
    for (const c of [...children].reverse()) await c.stop(5_000);
    return;
  }
  const byId = await alternate(Number(args.rounds), cases);
  report(rows, byId);
  for (const c of [...children].reverse()) await c.stop(5_000);
  if (args.profile) {
    for (const f of readdirSync(profileDir).filter((x) => x.endsWith('.cpuprofile'))) {
      process.stdout.write(`\nprofile ${f} (top self time, after 5 s of start-up)\n`);
      for (const h of topSelfTime(join(profileDir, f), 30, 5_000))
        process.stdout.write(`  ${String(h.selfPct).padStart(5)}%  ${h.name}  ${h.where}\n`);
    }
  }
}

/** `strace -c -f` on the peer for one slice: system calls per answered request, by name. */
async function syscallsPerRequest(id: string, peer: Peer, load: () => Promise<LoadResult>): Promise<void> {
  const out = join(REPO, `bench/results/strace-${id}.txt`);
  const tracer = startChild(`strace ${id}`, 'strace', ['-c', '-f', '-o', out, '-p', String(peer.mainPid)]);
  await sleep(500);
  const result = await load();
  await tracer.stop(5_000);
  const lines = readFileSync(out, 'utf8').split('\n');
  const calls: string[] = [];
  for (const l of lines) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(l);
    if (m && Number(m[1]) / result.requests >= 0.01) calls.push(`${m[2]} ${(Number(m[1]) / result.requests).toFixed(2)}`);
  }
  process.stdout.write(`${id}: ${result.requests} requests under strace; per request: ${calls.join(', ')}\n`);
}

function report(rows: readonly string[], byId: Record<string, CaseSummary>): void {
  const lines = [`rows (CPU µs/request: median [min-max] over rounds; req/s median; errors)`];
  for (const id of rows) {
    const c = byId[id];
    const cpu = c.rounds.map((r) => r.cpuUsPerReq);
    lines.push(
      `  ${id.padEnd(18)} ${c.cpuUsPerReq.toFixed(0).padStart(5)} [${Math.min(...cpu).toFixed(0)}-${Math.max(...cpu).toFixed(0)}]` +
        `  ${c.rps.toFixed(0).padStart(7)} req/s  ${c.errors} errors`,
    );
  }
  lines.push('differences (median of per-round differences, µs/request [min-max]; ratio of medians)');
  for (const [a, b] of DIFFS) {
    if (!byId[a] || !byId[b]) continue;
    const n = Math.min(byId[a].rounds.length, byId[b].rounds.length);
    const d = Array.from({ length: n }, (_, i) => byId[a].rounds[i].cpuUsPerReq - byId[b].rounds[i].cpuUsPerReq);
    lines.push(
      `  ${`${a} - ${b}`.padEnd(34)} ${median(d).toFixed(0).padStart(5)} [${Math.min(...d).toFixed(0)} to ${Math.max(...d).toFixed(0)}]` +
        `  ${(byId[a].cpuUsPerReq / byId[b].cpuUsPerReq).toFixed(2)}x`,
    );
  }
  lines.push(
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}${pin ? '' : ' (not pinned)'}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`ab: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
