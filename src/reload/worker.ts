import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerStart } from './protocol.js';

/*
 * The load worker (see asideLoader.ts): YAML parsing, validation and the layout of the
 * key store, which take about a second for a 100,000-key file, happen here, off the
 * thread that serves requests; the store's arrays then move to the main thread whole.
 */

const port = parentPort;
if (!port) throw new Error('loadWorker.js runs as a worker thread');

/*
 * On a busy machine a reload may be slower, but requests must not be: on Linux the nice
 * value is per thread, so this lowers the priority of this thread only. (Elsewhere it
 * would renice the whole process, serving thread included, so it is left alone.) Not
 * 19: sharing a saturated core, nice 10 still gets about a tenth of it, so a revocation
 * is applied under full load too, only later. A start-up load keeps the normal priority:
 * nothing is served yet, and readiness waits for it. Lowered at the first reload and
 * never raised again (raising it takes a privilege keygate does not have).
 */
let lowered = false;
function lowerPriority(): void {
  if (lowered || process.platform !== 'linux') return;
  lowered = true;
  try {
    setPriority(10);
  } catch {
    // not allowed here: run at normal priority
  }
}

// A worker started for a reload is lowered before it imports the loader: compiling those
// modules and running them for the first time cost ~180 ms of CPU (a one-key reload's
// whole cost is ~15 ms in a worker that is already running), which at normal priority
// competed with requests.
if ((workerData as WorkerStart | null)?.lowPriority === true) lowerPriority();
const { serveLoads } = await import('./workerLoads.js');
serveLoads(port, lowerPriority);
