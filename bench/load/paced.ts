import { Worker } from 'node:worker_threads';
import type { LoadResult } from './result.js';

// Workers do not inherit tsx's loader hooks: the worker registers them before loading
// its TypeScript entry.
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((api) => { api.register(); return import(${JSON.stringify(new URL('./pacedWorker.ts', import.meta.url).href)}); })`;

export interface OpenLoop {
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Requests per second, sent evenly (not in bursts) whatever the answers do. */
  readonly rate: number;
  readonly durationS: number;
  readonly expectStatus: number;
  readonly connections?: number;
  /** How long to wait for the last answers before counting them as errors. */
  readonly drainMs?: number;
}

export interface PacedResult extends LoadResult {
  /** When the slowest answer was sent, in ms after the start (to line it up with a reload). */
  readonly maxAtMs: number;
}

/**
 * An open loop at a fixed rate, in a worker thread so that other load generators and
 * the bench's own work never delay it. Latency is measured from each request's
 * scheduled send time, so a stalled server is charged for the requests it held up
 * (no coordinated omission).
 */
export function openLoop(o: OpenLoop): Promise<PacedResult> {
  return startOpenLoop(o).result;
}

/** The same, with a way to stop sending before `durationS` (the answers are still awaited). */
export function startOpenLoop(o: OpenLoop): { result: Promise<PacedResult>; stop(): void } {
  const worker = new Worker(WORKER_BOOT, { eval: true, workerData: o });
  const result = new Promise<PacedResult>((resolve, reject) => {
    worker.once('message', (r: PacedResult) => resolve(r));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`paced load worker exited with ${code}`));
    });
  });
  return { result, stop: () => worker.postMessage('stop') };
}
