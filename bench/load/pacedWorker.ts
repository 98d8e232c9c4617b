import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';
import type { OpenLoop, PacedResult } from './paced.js';
import { summarize } from './result.js';

const o = workerData as OpenLoop;
const url = new URL(o.url);
const pool = new Pool(url.origin, { connections: o.connections ?? 64, pipelining: 1, keepAliveTimeout: 60_000 });
const interval = 1000 / o.rate;
/** Requests planned; a 'stop' message from the parent lowers it to what was sent. */
let total = Math.max(1, Math.round(o.rate * o.durationS));
const latencies = new Float64Array(total);
const finished = new Uint8Array(total);
const statuses: Record<string, number> = {};
let done = 0;
let responses = 0;
let errors = 0;
let maxMs = -1;
let maxAtMs = 0;
let issued = 0;

const t0 = performance.now() + 20;

function send(i: number): void {
  const scheduled = t0 + i * interval;
  pool
    .request({ path: url.pathname + url.search, method: 'GET', headers: o.headers })
    .then(async (res) => {
      await res.body.dump();
      if (finished[i]) return;
      responses++;
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode !== o.expectStatus) errors++;
      record(performance.now() - scheduled, i);
    })
    .catch(() => {
      if (finished[i]) return;
      errors++;
      record(performance.now() - scheduled, i);
    });
}

function record(ms: number, i: number): void {
  finished[i] = 1;
  latencies[done++] = ms;
  if (ms > maxMs) {
    maxMs = ms;
    maxAtMs = i * interval;
  }
}

function tick(): void {
  const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
  while (issued < due) send(issued++);
  if (issued < total) setTimeout(tick, Math.max(0, t0 + issued * interval - performance.now()));
  else void finish();
}

async function finish(): Promise<void> {
  const deadline = performance.now() + (o.drainMs ?? 10_000);
  while (done < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const stuck = total - done;
  // Requests still unanswered count as errors, with the time they have waited so far.
  const now = performance.now();
  for (let i = 0; i < total && done < total; i++) if (!finished[i]) record(now - (t0 + i * interval), i);
  const result: PacedResult = {
    tool: 'paced',
    requests: responses,
    durationS: (now - t0) / 1000,
    rps: responses / ((total * interval) / 1000),
    ...summarize(latencies.subarray(0, total)),
    errors: errors + stuck,
    statuses,
    maxAtMs,
  };
  parentPort!.postMessage(result);
  await pool.destroy().catch(() => undefined);
}

// The parent may end the run early (a reload finished): nothing more is sent.
parentPort!.on('message', (m: unknown) => {
  if (m === 'stop' && issued < total) total = Math.max(1, issued);
});
parentPort!.unref(); // the port alone must not keep a finished worker alive

setTimeout(tick, Math.max(0, t0 - performance.now()));
