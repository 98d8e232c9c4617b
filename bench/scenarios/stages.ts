/**
 * The per-stage cost table: every variant of keygate runs at once, each with one stage
 * switched off (or its log sent elsewhere), beside the bare forwarder and the C/Go
 * peers; short wrk slices rotate between all of them for several rounds, and each
 * stage's cost is the median over rounds of (variant with the stage) - (without it),
 * both measured in the same round. See bench/README.md, "Adding a row".
 */
import { median } from '../lib/stats.js';
import type { MicroResult } from '../micro/inProcess.js';
import { closedLoop } from '../load/autocannon.js';
import type { LoadResult } from '../load/result.js';
import { wrk } from '../load/wrk.js';
import type { LogSink } from '../peers/keygate.js';
import { PATHS } from './context.js';
import { alternate, measure, type Case, type CaseSummary, type Peer, type ScenarioResult } from './harness.js';

/** A keygate process of the table: the bench config (example + generated keys) with one thing changed. */
export interface KeygateVariant {
  /** Stable: STAGES and other engineers' rows refer to it. */
  readonly id: string;
  readonly name: string;
  /** Where its stdout goes; default `pipe` (drained by another process, as a container runtime does). */
  readonly log?: LogSink;
  /** `log.access`; default true. */
  readonly accessLog?: boolean;
  /** Bench-only stage switches, defined in bench/peers/knockoutHooks.mjs. */
  readonly knockouts?: readonly string[];
  /** Any other config change, e.g. `(main) => main + 'rateLimits: ...'`. */
  readonly editMain?: (main: string) => string;
  /** An edit of policy.yaml, e.g. a rate limit on the bench keys' user. */
  readonly editPolicy?: (policy: string) => string;
  /** More `keygate serve` arguments, e.g. ['--workers', '2']. */
  readonly serveArgs?: readonly string[];
}

/**
 * joe (the bench keys' user) gets a memory-backed limit no bench run reaches, so every
 * request takes a token and gets the RateLimit headers, and none is refused.
 */
export function limitJoe(policy: string): string {
  const limited = policy
    .replace(/^rateLimits:\n/m, 'rateLimits:\n  bench: { rate: 10000000/s, burst: 10000000 }\n')
    .replace(/^( {2}joe:\n {4}roles: \[[^\]]*\]\n)/m, '$1    rateLimit: bench\n');
  if (!limited.includes('rateLimit: bench')) throw new Error('bench: config/policy.yaml has no rateLimits block or no user joe to limit');
  return limited;
}

/**
 * A shadow candidate naming the live policy and keys files again: every request is decided
 * a second time by a copy of each (its own key lookup included) and always agrees, which is
 * the common case the budget is about.
 */
export function shadowOfItself(main: string): string {
  const keys = /^keys:\s*\[(.*)\]\s*$/m.exec(main);
  if (!keys) throw new Error('bench: keygate.yaml has no one-line `keys: [...]` to name in the shadow candidate');
  return `${main.replace(/\n?$/, '\n')}shadow: { policy: ./policy.yaml, keys: [${keys[1]}] }\n`;
}

export const KEYGATE_VARIANTS: readonly KeygateVariant[] = [
  { id: 'all_on', name: 'keygate, everything on (log to a pipe)' },
  { id: 'log_file', name: 'keygate, log to a file', log: 'file' },
  { id: 'log_devnull', name: 'keygate, log to /dev/null', log: 'devnull' },
  { id: 'log_off', name: 'keygate, access log off', accessLog: false },
  { id: 'metrics_off', name: 'keygate, metrics off (knockout)', knockouts: ['metrics'] },
  { id: 'decision_off', name: 'keygate, decision off (knockout)', knockouts: ['decision'] },
  { id: 'headers_off', name: 'keygate, header rewrite off (knockout)', knockouts: ['headers'] },
  { id: 'ratelimit_on', name: 'keygate, user rate limit (memory) on every request', editPolicy: limitJoe },
  { id: 'meaning_off', name: 'keygate, request-meaning checks off (knockout)', knockouts: ['meaning'] },
  { id: 'shadow_on', name: 'keygate, shadow candidate (policy + keys, agreeing) on', editMain: shadowOfItself },
  { id: 'usage_off', name: 'keygate, key usage recording off (knockout)', knockouts: ['usage'] },
  { id: 'workers_2', name: 'keygate --workers 2, everything on', serveArgs: ['--workers', '2'] },
  { id: 'assertion_off', name: 'keygate, identity assertion off (knockout: one fixed token)', knockouts: ['assertion'] },
];

/** What a row sends: a proxied small GET (allowed or unknown key), a decision-API check, or a plain GET. */
export type RowRequest = 'proxy' | 'proxy_401' | 'check' | 'check_401' | 'plain';

export interface StageRow {
  readonly id: string;
  readonly name: string;
  /** A keygate variant id, or one of the other peers: bare, nginx, haproxy, caddy, bare_200. */
  readonly peer: string;
  readonly request: RowRequest;
}

export const ROWS: readonly StageRow[] = [
  { id: 'bare', name: 'bare forwarder (node:http + undici)', peer: 'bare', request: 'proxy' },
  { id: 'nginx', name: 'nginx, 1 worker', peer: 'nginx', request: 'proxy' },
  { id: 'haproxy', name: 'HAProxy, 1 thread', peer: 'haproxy', request: 'proxy' },
  { id: 'caddy', name: 'Caddy, GOMAXPROCS=1', peer: 'caddy', request: 'proxy' },
  ...KEYGATE_VARIANTS.map((v): StageRow => ({ id: v.id, name: v.name, peer: v.id, request: 'proxy' })),
  { id: 'all_on_401', name: 'keygate 401 (unknown key), everything on', peer: 'all_on', request: 'proxy_401' },
  { id: 'check_allow', name: 'decision API, allowed, everything on', peer: 'all_on', request: 'check' },
  { id: 'check_401', name: 'decision API, 401, everything on', peer: 'all_on', request: 'check_401' },
  { id: 'bare_200', name: 'bare node:http answering 200', peer: 'bare_200', request: 'plain' },
];

/** A stage's cost: row `on` minus row `off` (absent: `on` itself), paired per round. */
export interface StageDef {
  /** Stable names: other engineers' budgets refer to them. */
  readonly stage: string;
  readonly on: string;
  readonly off?: string;
  /** The per-request budget, µs. */
  readonly budgetUs?: number;
  /** Part of `keygate overhead` (summed for the `rest` line). */
  readonly part?: boolean;
}

export const STAGES: readonly StageDef[] = [
  { stage: 'forwarding (bare forwarder)', on: 'bare' },
  { stage: 'decision', on: 'all_on', off: 'decision_off', budgetUs: 3, part: true },
  { stage: 'metrics', on: 'all_on', off: 'metrics_off', budgetUs: 2, part: true },
  { stage: 'access log (pipe)', on: 'all_on', off: 'log_off', budgetUs: 5, part: true },
  { stage: 'access log (file)', on: 'log_file', off: 'log_off', budgetUs: 5 },
  { stage: 'access log (/dev/null)', on: 'log_devnull', off: 'log_off', budgetUs: 5 },
  { stage: 'header rewrite', on: 'all_on', off: 'headers_off', part: true },
  { stage: 'rate limit (memory)', on: 'ratelimit_on', off: 'all_on', budgetUs: 3 },
  { stage: 'request meaning (upgrade, overrides, Host, TRACE)', on: 'all_on', off: 'meaning_off', budgetUs: 2, part: true },
  // The example config signs an assertion for compute: the cached token lookup and one more header.
  { stage: 'identity assertion (cached JWT)', on: 'all_on', off: 'assertion_off', budgetUs: 3, part: true },
  { stage: 'shadow decision (candidate policy + keys)', on: 'shadow_on', off: 'all_on', budgetUs: 3 },
  { stage: 'key usage (last used)', on: 'all_on', off: 'usage_off', budgetUs: 1, part: true },
  { stage: 'keygate overhead (everything on - bare)', on: 'all_on', off: 'bare' },
];

export interface StageResult {
  readonly stage: string;
  readonly on: string;
  readonly off?: string;
  /** Median over rounds of the paired difference, µs per request. */
  readonly us: number;
  /** Smallest and largest per-round difference: how noisy this line was. */
  readonly min: number;
  readonly max: number;
  readonly budgetUs?: number;
}

export interface StagesResult extends ScenarioResult {
  readonly stages: readonly StageResult[];
  readonly rows: readonly StageRow[];
  /** The same stages timed alone in one process (bench/micro/inProcess.ts): what budgets are held to. */
  readonly inProcess?: readonly MicroResult[];
}

export interface StageTarget {
  readonly peer: Peer;
  /** http://host:port of the decision API (keygate variants only). */
  readonly check?: string;
}

export interface StagesOptions {
  readonly peers: ReadonlyMap<string, StageTarget>;
  readonly keys: { readonly allowed: string; readonly unknown: string };
  readonly rounds: number;
  readonly sliceS: number;
  readonly connections: number;
  readonly useWrk: boolean;
  readonly notes: string[];
}

/** Runs every row whose peer is present, `rounds` times in rotating order. */
export async function stageTable(o: StagesOptions): Promise<StagesResult> {
  const rows = ROWS.filter((r) => o.peers.has(r.peer) && (!r.request.startsWith('check') || o.peers.get(r.peer)?.check));
  const skipped = ROWS.filter((r) => !rows.includes(r)).map((r) => r.id);
  if (skipped.length) o.notes.push(`stage table: rows without their peer skipped: ${skipped.join(', ')}`);
  const cases = rows.map((r): Case => {
    const target = o.peers.get(r.peer)!;
    const { url, headers, expect } = requestOf(r.request, target, o.keys);
    const load = (): Promise<LoadResult> =>
      o.useWrk
        ? wrk({ url, headers, connections: o.connections, durationS: o.sliceS, expectStatus: expect })
        : closedLoop({ url, headers, connections: o.connections, durationS: o.sliceS, expectStatus: expect });
    return { name: r.id, run: () => measure(target.peer, load) };
  });
  const byId = await alternate(o.rounds, cases);
  const stages = STAGES.filter((s) => byId[s.on] && (!s.off || byId[s.off])).map((s) => stageCost(s, byId));
  const rest = restOfKeygate(byId);
  return {
    id: 'stages',
    title: `per-stage cost, small GET, ${o.useWrk ? 'wrk -t1' : 'autocannon'} -c${o.connections}, ${o.sliceS} s slices x ${o.rounds} rounds`,
    cases: Object.fromEntries(rows.map((r) => [r.id, byId[r.id]])),
    stages: rest ? [...stages, rest] : stages,
    rows,
  };
}

function requestOf(
  kind: RowRequest,
  t: StageTarget,
  keys: StagesOptions['keys'],
): { url: string; headers: Record<string, string>; expect: number } {
  const auth = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
  // nginx auth_request dialect: the original request described in headers.
  const original = { 'x-original-uri': `/compute${PATHS.small}`, 'x-original-method': 'GET' };
  switch (kind) {
    case 'proxy':
      return { url: t.peer.url(PATHS.small), headers: auth(keys.allowed), expect: 200 };
    case 'proxy_401':
      return { url: t.peer.url(PATHS.small), headers: auth(keys.unknown), expect: 401 };
    case 'check':
      return { url: `${t.check}/`, headers: { ...original, ...auth(keys.allowed) }, expect: 200 };
    case 'check_401':
      return { url: `${t.check}/`, headers: { ...original, ...auth(keys.unknown) }, expect: 401 };
    case 'plain':
      return { url: t.peer.url('/'), headers: {}, expect: 200 };
  }
}

const cpu = (c: CaseSummary, i: number): number => c.rounds[i]?.cpuUsPerReq ?? NaN;

function perRound(byId: Record<string, CaseSummary>, f: (i: number) => number): number[] {
  const n = Math.min(...Object.values(byId).map((c) => c.rounds.length));
  return Array.from({ length: n }, (_, i) => f(i)).filter(Number.isFinite);
}

function summarize(def: Pick<StageDef, 'stage' | 'on' | 'off' | 'budgetUs'>, diffs: number[]): StageResult {
  return {
    stage: def.stage,
    on: def.on,
    ...(def.off ? { off: def.off } : {}),
    us: median(diffs),
    min: Math.min(...diffs),
    max: Math.max(...diffs),
    ...(def.budgetUs !== undefined ? { budgetUs: def.budgetUs } : {}),
  };
}

function stageCost(s: StageDef, byId: Record<string, CaseSummary>): StageResult {
  const on = byId[s.on];
  const off = s.off ? byId[s.off] : undefined;
  return summarize(
    s,
    perRound(byId, (i) => cpu(on, i) - (off ? cpu(off, i) : 0)),
  );
}

/** What the knocked-out stages do not explain: HTTP handling, records, async hops. */
function restOfKeygate(byId: Record<string, CaseSummary>): StageResult | undefined {
  const parts = STAGES.filter((s) => s.part && s.off && byId[s.on] && byId[s.off]);
  if (!byId.all_on || !byId.bare) return undefined;
  const diffs = perRound(
    byId,
    (i) => cpu(byId.all_on, i) - cpu(byId.bare, i) - parts.reduce((a, s) => a + cpu(byId[s.on], i) - cpu(byId[s.off!], i), 0),
  );
  return summarize({ stage: 'rest of keygate (overhead minus the stages above)', on: 'all_on' }, diffs);
}
