import { sleep } from '../lib/child.js';
import { memoryMiB, totalCpuMicros } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import { errorRate, type LoadResult } from '../load/result.js';

/** Something the bench sends load to: keygate, the bare forwarder, or nginx. */
export interface Peer {
  readonly name: string;
  /** The URL of a compute path (`/v2/...`) on this peer (keygate and nginx add /compute). */
  url(path: string): string;
  /** The processes whose CPU this peer costs. */
  pids(): number[];
  /** The process whose RSS is reported. */
  readonly mainPid: number;
}

/** One run: the load generator's view plus the peer's CPU per request and RSS. */
export interface Measured extends LoadResult {
  readonly cpuUsPerReq: number;
  readonly rssMiB: number;
}

/** Runs `load` against `peer` and charges the peer's CPU time to the requests it answered. */
export async function measure(peer: Peer, load: () => Promise<LoadResult>): Promise<Measured> {
  const pids = peer.pids();
  const before = totalCpuMicros(pids);
  const result = await load();
  const after = totalCpuMicros(pids);
  const attempts = result.requests + result.errors;
  const cpu = before === undefined || after === undefined ? NaN : after - before;
  return { ...result, cpuUsPerReq: attempts ? cpu / attempts : NaN, rssMiB: memoryMiB(peer.mainPid)?.rss ?? NaN };
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly cases: Record<string, CaseSummary>;
  readonly notes?: string[];
}

export interface Case {
  readonly name: string;
  run(): Promise<Measured>;
}

/** Medians over rounds, and everything each round measured. */
export interface CaseSummary {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuUsPerReq: number;
  readonly rssMiB: number;
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number;
  readonly statuses: Record<string, number>;
  readonly rounds: readonly Measured[];
}

/**
 * Every case once per round, `rounds` times, the order rotated each round so that no
 * peer always runs first or last (machine noise and thermal drift hit all of them).
 */
export async function alternate(rounds: number, cases: readonly Case[], pauseMs = 150): Promise<Record<string, CaseSummary>> {
  const runs = new Map<string, Measured[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = [...cases.slice(r % cases.length), ...cases.slice(0, r % cases.length)];
    for (const c of order) {
      runs.get(c.name)!.push(await c.run());
      await sleep(pauseMs);
    }
  }
  return Object.fromEntries([...runs].map(([name, ms]) => [name, summarizeRuns(ms)]));
}

export function summarizeRuns(ms: readonly Measured[]): CaseSummary {
  const requests = ms.reduce((a, m) => a + m.requests, 0);
  const errors = ms.reduce((a, m) => a + m.errors, 0);
  const statuses: Record<string, number> = {};
  for (const m of ms) for (const [s, n] of Object.entries(m.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
  return {
    rps: median(ms.map((m) => m.rps)),
    p50: median(ms.map((m) => m.p50)),
    p99: median(ms.map((m) => m.p99)),
    cpuUsPerReq: median(ms.map((m) => m.cpuUsPerReq)),
    rssMiB: ms.at(-1)?.rssMiB ?? NaN,
    requests,
    errors,
    errorRate: errorRate({ requests, errors } as LoadResult),
    statuses,
    rounds: ms,
  };
}
