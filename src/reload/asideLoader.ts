import { Worker } from 'node:worker_threads';
import type { LoadResult } from '../config/load.js';
import type { ToMain, ToWorker, WorkerStart } from './protocol.js';
import { decodeSnapshot } from './codec.js';

export interface AsideLoaderOptions {
  /** An idle worker is stopped after this long, so its heap (the parsed YAML) is given back. */
  readonly idleMs?: number;
  /**
   * Longest one load may take (default 5 min). Past it the load fails and its worker is
   * dropped, so a read stuck in the kernel (a hung network mount) fails that reload
   * instead of every later one. Not less: a 100,000-key file loads in 1–3 s, but a
   * 1,000,000-key file (200 MB) took over 60 s in the low-priority worker on a busy
   * 2-core machine, and a start-up that times out never becomes ready.
   */
  readonly loadTimeoutMs?: number;
}

interface PendingLoad {
  readonly id: number;
  readonly worker: Worker;
  readonly resolve: (result: LoadResult) => void;
  readonly reject: (e: Error) => void;
}

export interface LoadOptions {
  readonly generation: number;
  readonly env: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** This load's time limit instead of the loader's `loadTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * A start-up load (nothing is served yet): the worker keeps its normal priority, so a
   * busy machine does not delay readiness. Reloads run at a lower priority (worker.ts).
   */
  readonly startup?: boolean;
}

/**
 * Loads a config off the main thread: a worker reads, parses and validates every file
 * and lays the keys out as a compact store (loadConfig); the store's arrays are then
 * transferred, so the main thread's share is a few small objects and one reference
 * swap, whatever the key count. Parsing a 100,000-key file takes about a second; done
 * here it never stalls a request.
 * Loads queue up and run one at a time, so several keygate instances in one process
 * (tests) can share one worker.
 */
export class AsideLoader {
  readonly #idleMs: number;
  readonly #timeoutMs: number;
  #worker: Worker | undefined;
  #pending: PendingLoad | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;

  constructor(options: AsideLoaderOptions = {}) {
    this.#idleMs = options.idleMs ?? 5_000;
    this.#timeoutMs = options.loadTimeoutMs ?? 300_000;
  }

  /**
   * Resolves with the same result `loadConfig` would give; rejects if the worker itself
   * failed or `signal` aborted the load (a running one stops its worker: shutdown must
   * not wait for a parse that takes seconds).
   */
  load(mainFile: string, options: LoadOptions): Promise<LoadResult> {
    const run = this.#queue.then(() => this.#start(mainFile, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #start(mainFile: string, options: LoadOptions): Promise<LoadResult> {
    if (options.signal?.aborted) return Promise.reject(abortError());
    clearTimeout(this.#idleTimer);
    const worker = this.#ensureWorker(!(options.startup ?? false));
    worker.ref();
    const id = this.#nextId++;
    const stop = (why: Error): void => {
      if (this.#pending?.id !== id) return;
      this.#fail(why);
      if (this.#worker === worker) this.#worker = undefined;
      // Not awaited: a worker blocked in a system call ends only when the call returns.
      void worker.terminate();
    };
    const abort = (): void => stop(abortError());
    options.signal?.addEventListener('abort', abort, { once: true });
    const limit = options.timeoutMs ?? this.#timeoutMs;
    const timer = setTimeout(() => stop(new Error(`config load timed out after ${limit} ms`)), limit);
    return new Promise<LoadResult>((resolve, reject) => {
      this.#pending = { id, worker, resolve, reject };
      this.#post({
        type: 'load',
        id,
        mainFile,
        generation: options.generation,
        env: { ...options.env },
        startup: options.startup ?? false,
      });
    }).finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    });
  }

  /** Stops the worker; a load still running is rejected (queued ones start a new worker). */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    this.#worker = undefined;
    this.#fail(new Error('config loader closed'));
    await worker?.terminate();
  }

  #ensureWorker(lowPriority: boolean): Worker {
    if (this.#worker) return this.#worker;
    const worker = spawnLoadWorker({ lowPriority });
    worker.on('message', (msg: ToMain) => this.#onMessage(msg));
    // Only this worker's own load fails with it: one stopped by an abort may exit after the next load started.
    worker.on('error', (e) => {
      if (this.#pending?.worker === worker) this.#fail(e);
    });
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      if (this.#pending?.worker === worker) this.#fail(new Error(`config load worker exited (code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #onMessage(msg: ToMain): void {
    const p = this.#pending;
    if (!p || msg.id !== p.id) return;
    try {
      if (msg.type === 'failed')
        this.#settle({ ok: false, errors: msg.errors, warnings: msg.warnings, sources: msg.sources, metas: msg.metas });
      else if (msg.type === 'crashed') this.#fail(new Error(`config load worker failed: ${msg.message}`));
      else
        this.#settle({ ok: true, snapshot: decodeSnapshot(msg.snapshot), warnings: msg.warnings, sources: msg.sources, metas: msg.metas });
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #settle(result: LoadResult): void {
    const p = this.#pending;
    this.#pending = undefined;
    this.#idle();
    p?.resolve(result);
  }

  #fail(e: Error): void {
    const p = this.#pending;
    this.#pending = undefined;
    this.#idle();
    p?.reject(e);
  }

  #idle(): void {
    const worker = this.#worker;
    if (!worker) return;
    worker.unref();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending || this.#worker !== worker) return;
      this.#worker = undefined;
      void worker.terminate();
    }, this.#idleMs).unref();
  }

  #post(msg: ToWorker): void {
    this.#worker?.postMessage(msg);
  }
}

/**
 * The worker runs built code: worker.js, this file's sibling in a built tree
 * (dist/reload/ as tsc writes it, dist/bundle/ as bin/keygate.js runs it). Run from
 * source (this file is .ts: tests, benchmarks) it still runs the built worker, so no
 * TypeScript loader is ever needed in a worker thread; the test run builds dist/ first
 * (test/buildDist.ts).
 */
function spawnLoadWorker(start: WorkerStart): Worker {
  const self = import.meta.url;
  return new Worker(new URL(self.endsWith('.ts') ? '../../dist/reload/worker.js' : './worker.js', self), { workerData: start });
}

let shared: AsideLoader | undefined;

/** The process's loader: one worker, started on first use, stopped when idle. */
export function sharedAsideLoader(): AsideLoader {
  return (shared ??= new AsideLoader());
}

/** Rejects an aborted load the way Node's own APIs do (`AbortError`, code `ABORT_ERR`). */
function abortError(): Error {
  return Object.assign(new Error('config load aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}
