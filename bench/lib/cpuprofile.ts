import { readFileSync } from 'node:fs';

/** One line of a profile summary: a function, where it is, and its share of samples. */
export interface HotFunction {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly selfPct: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function from a `node --cpu-prof` file: each sample's time delta is
 * charged to the node it landed in, then nodes are grouped by function and location.
 * Samples in the first `skipMs` (start-up, config load) and idle time are left out, so
 * the shares are of the CPU spent serving.
 */
export function topSelfTime(file: string, limit = 15, skipMs = 0): HotFunction[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  let clock = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    clock += dt;
    if (!node || clock < skipMs * 1000 || node.callFrame.functionName === '(idle)') return;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const id2 = `${functionName}@${where}`;
    const entry = selfUs.get(id2) ?? { name: functionName || '(anonymous)', where, us: 0 };
    entry.us += dt;
    selfUs.set(id2, entry);
  });
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({
      name: e.name,
      where: e.where,
      selfMs: Math.round(e.us / 100) / 10,
      selfPct: total ? Math.round((e.us / total) * 1000) / 10 : 0,
    }));
}

function shorten(url: string): string {
  const m = /node_modules\/(.*)$/.exec(url) ?? /\/(src\/.*|dist\/.*|bench\/.*)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}

/** `node --import tsx bench/lib/cpuprofile.ts FILE [skipMs]`: the top 30 self-time functions. */
if (process.argv[1]?.endsWith('cpuprofile.ts') && process.argv[2]) {
  for (const h of topSelfTime(process.argv[2], 30, Number(process.argv[3] ?? 0))) {
    console.log(`${String(h.selfPct).padStart(5)}%  ${String(h.selfMs).padStart(8)} ms  ${h.name}  ${h.where}`);
  }
}
