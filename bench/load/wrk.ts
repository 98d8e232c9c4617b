import { execFile } from 'node:child_process';
import type { LoadResult } from './result.js';

/** Debian's wrk (one thread): a second, C load generator for the small-GET scenario. */
export function wrk(o: {
  url: string;
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  expectStatus: number;
  /** Run wrk on this CPU only (taskset), so it never shares the measured peer's core. */
  cpu?: number;
}): Promise<LoadResult> {
  // wrk takes whole seconds only.
  const args = ['-t1', `-c${o.connections}`, `-d${Math.max(1, Math.round(o.durationS))}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return new Promise((resolve, reject) => {
    const [cmd, argv] = o.cpu === undefined ? ['wrk', args] : ['taskset', ['-c', String(o.cpu), 'wrk', ...args]];
    execFile(cmd, argv, { timeout: (o.durationS + 15) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}`));
      resolve(parseWrk(stdout, o.expectStatus));
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function ms(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

export function parseWrk(out: string, expectStatus: number): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`cannot read wrk output: ${out.slice(0, 500)}`);
  const requests = Number(total[1]);
  const durationS = ms(`${total[2]}${total[3]}`) / 1000;
  const pct = (p: string): number => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1]);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const unexpected = expectStatus >= 200 && expectStatus < 400 ? non2xx : requests - non2xx;
  return {
    tool: 'wrk',
    requests,
    durationS,
    rps: requests / durationS,
    p50: pct('50'),
    p90: pct('90'),
    p99: pct('99'),
    max: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1]),
    errors: socketErrors + unexpected,
    statuses: { [String(expectStatus)]: requests - unexpected },
  };
}
