import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { encodeHead, encodeKey } from './codec.js';
import type { KeyRecord } from '../config/snapshot.js';
import type { ToMain, ToWorker } from './protocol.js';

/*
 * The load worker (see loadAside.ts): YAML parsing and validation of a whole config,
 * which takes seconds for a 100,000-key file, happen here, off the thread that serves
 * requests. The main thread pulls the keys in batches, so it never has to deserialize
 * and compile more than one batch between two turns of its event loop.
 */

const port = parentPort;
if (!port) throw new Error('loadWorker.js runs as a worker thread');

/*
 * On a busy machine a reload may be slower, but requests must not be: on Linux the nice
 * value is per thread, so this lowers the priority of this thread only. (Elsewhere it
 * would renice the whole process, serving thread included, so it is left alone.) Not
 * 19: sharing a saturated core, nice 10 still gets about a tenth of it, so a revocation
 * is applied under full load too, only later.
 */
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // not allowed here: run at normal priority
  }
}

/** The keys of the last successful load, until the main thread has pulled them all. */
let held: { id: number; keys: readonly KeyRecord[] } | undefined;

port.on('message', (msg: ToWorker) => {
  try {
    if (msg.type === 'load') load(msg);
    else sendKeys(msg.id, msg.from, msg.count);
  } catch (e) {
    held = undefined;
    send({ type: 'crashed', id: msg.id, message: e instanceof Error ? e.stack ?? e.message : String(e) });
  }
});

function load(msg: Extract<ToWorker, { type: 'load' }>): void {
  held = undefined;
  const result = loadConfig(msg.mainFile, { generation: msg.generation, env: msg.env });
  if (!result.ok) {
    send({ type: 'failed', id: msg.id, errors: result.errors, warnings: result.warnings, sources: result.sources });
    return;
  }
  held = { id: msg.id, keys: result.snapshot.keyList };
  send({ type: 'head', id: msg.id, head: encodeHead(result.snapshot), keyCount: held.keys.length, warnings: result.warnings, sources: result.sources });
}

function sendKeys(id: number, from: number, count: number): void {
  if (!held || held.id !== id) throw new Error(`no keys held for load ${id}`);
  const keys = held.keys.slice(from, from + count).map(encodeKey);
  if (from + count >= held.keys.length) held = undefined;
  send({ type: 'keys', id, keys });
}

function send(msg: ToMain): void {
  port!.postMessage(msg);
}
