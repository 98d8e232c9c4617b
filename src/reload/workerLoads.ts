import type { MessagePort } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { encodeSnapshot, snapshotTransferables } from './codec.js';
import type { ToMain, ToWorker } from './protocol.js';

/** Answers the main thread's load requests (worker.ts imports this once its priority is set). */
export function serveLoads(port: MessagePort, lowerPriority: () => void): void {
  const send = (msg: ToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  port.on('message', (msg: ToWorker) => {
    try {
      if (!msg.startup) lowerPriority();
      load(msg, send);
    } catch (e) {
      send({ type: 'crashed', id: msg.id, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
}

/** The key store's arrays are transferred, not copied: this thread is done with them. */
function load(msg: ToWorker, send: (msg: ToMain, transfer?: ArrayBuffer[]) => void): void {
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
