import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { encodeSnapshot, snapshotTransferables } from './codec.js';
import type { ToMain, ToWorker } from './protocol.js';

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

port.on('message', (msg: ToWorker) => {
  try {
    if (!msg.startup) lowerPriority();
    load(msg);
  } catch (e) {
    send({ type: 'crashed', id: msg.id, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});

/** The key store's arrays are transferred, not copied: this thread is done with them. */
function load(msg: ToWorker): void {
  const result = loadConfig(msg.mainFile, { generation: msg.generation, env: msg.env });
  if (!result.ok) {
    send({ type: 'failed', id: msg.id, errors: result.errors, warnings: result.warnings, sources: result.sources, metas: result.metas });
    return;
  }
  const snapshot = encodeSnapshot(result.snapshot);
  send(
    { type: 'loaded', id: msg.id, snapshot, warnings: result.warnings, sources: result.sources, metas: result.metas },
    snapshotTransferables(snapshot),
  );
}

function send(msg: ToMain, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}
