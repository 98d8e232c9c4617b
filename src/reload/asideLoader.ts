import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Sources } from '../config/fingerprint.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { LoadResult } from '../config/load.js';
import type { ToMain, ToWorker } from './protocol.js';
import { SnapshotAssembler, type EncodedHead, type EncodedKey } from './codec.js';

export interface AsideLoaderOptions {
  /** An idle worker is stopped after this long, so its heap (the parsed YAML) is given back. */
  readonly idleMs?: number;
  /**
   * Main-thread time to spend decoding one batch of keys. Receiving the batch (the
   * structured clone) costs about as much again, and GC pauses come on top.
   */
  readonly batchBudgetMs?: number;
  /** Idle time between batches, so requests and GC get the thread about half of the time. */
  readonly batchPauseMs?: number;
  /**
   * Longest one load may take (default 60 s; a 100,000-key file loads in 2–4 s). Past
   * it the load fails and its worker is dropped, so a read stuck in the kernel (a hung
   * network mount) fails that reload instead of every later one.
   */
  readonly loadTimeoutMs?: number;
}

interface PendingLoad {
  readonly id: number;
  readonly worker: Worker;
  readonly resolve: (result: LoadResult) => void;
  readonly reject: (e: Error) => void;
  head?: EncodedHead;
  keyCount: number;
  warnings: readonly ConfigIssue[];
  sources: Sources;
  readonly assembler: SnapshotAssembler;
  /** Smoothed main-thread cost of decoding one key: one slow batch (a GC, a busy CPU) must not swing the next. */
  perKeyMs?: number;
}

export interface LoadOptions {
  readonly generation: number;
  readonly env: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** This load's time limit instead of the loader's `loadTimeoutMs`. */
  readonly timeoutMs?: number;
}

const FIRST_BATCH = 100;
const MIN_BATCH = 50;
const MAX_BATCH = 20_000;

/**
 * Loads a config off the main thread: a worker reads, parses and validates every file
 * (loadConfig), and the main thread rebuilds the snapshot from plain data, one batch of
 * keys per message so each message costs it about `batchBudgetMs`. Parsing a
 * 100,000-key YAML file takes seconds; done here it never stalls a request.
 * Loads queue up and run one at a time, so several keygate instances in one process
 * (tests) can share one worker.
 */
export class AsideLoader {
  readonly #idleMs: number;
  readonly #budgetMs: number;
  readonly #pauseMs: number;
  readonly #timeoutMs: number;
  #worker: Worker | undefined;
  #pending: PendingLoad | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;

  constructor(options: AsideLoaderOptions = {}) {
    this.#idleMs = options.idleMs ?? 5_000;
    this.#budgetMs = options.batchBudgetMs ?? 2;
    this.#pauseMs = options.batchPauseMs ?? 2;
    this.#timeoutMs = options.loadTimeoutMs ?? 60_000;
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
    const worker = this.#ensureWorker();
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
      this.#pending = { id, worker, resolve, reject, keyCount: 0, warnings: [], sources: new Map(), assembler: new SnapshotAssembler() };
      this.#post({ type: 'load', id, mainFile, generation: options.generation, env: { ...options.env } });
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

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = spawnLoadWorker();
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
      if (msg.type === 'failed') this.#settle({ ok: false, errors: msg.errors, warnings: msg.warnings, sources: msg.sources });
      else if (msg.type === 'crashed') this.#fail(new Error(`config load worker failed: ${msg.message}`));
      else if (msg.type === 'head') this.#onHead(p, msg);
      else this.#onKeys(p, msg.keys);
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #onHead(p: PendingLoad, msg: Extract<ToMain, { type: 'head' }>): void {
    Object.assign(p, { head: msg.head, keyCount: msg.keyCount, warnings: msg.warnings, sources: msg.sources });
    if (msg.keyCount === 0) this.#finish(p);
    else this.#post({ type: 'keys', id: p.id, from: 0, count: FIRST_BATCH });
  }

  /** Decodes one batch, sizes the next one to the time budget, and asks for it. */
  #onKeys(p: PendingLoad, keys: readonly EncodedKey[]): void {
    const started = performance.now();
    p.assembler.addKeys(keys);
    const sample = (performance.now() - started) / Math.max(1, keys.length);
    p.perKeyMs = p.perKeyMs === undefined ? sample : 0.8 * p.perKeyMs + 0.2 * sample;
    const received = p.assembler.keys.length;
    if (received >= p.keyCount) {
      this.#finish(p);
      return;
    }
    const count = Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.floor(this.#budgetMs / Math.max(p.perKeyMs, 1e-4))));
    const next = (): void => {
      if (this.#pending === p) this.#post({ type: 'keys', id: p.id, from: received, count });
    };
    if (this.#pauseMs > 0) setTimeout(next, this.#pauseMs);
    else next();
  }

  #finish(p: PendingLoad): void {
    if (this.#pending !== p) return;
    try {
      const snapshot = p.assembler.finish(p.head!);
      this.#settle({ ok: true, snapshot, warnings: p.warnings, sources: p.sources });
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
 * The worker runs built code: dist/reload/worker.js, this file's sibling in a built
 * tree. Run from source (this file is .ts: tests, benchmarks) it still runs the built
 * worker, so no TypeScript loader is ever needed in a worker thread; the test run
 * builds dist/ first (test/buildDist.ts).
 */
function spawnLoadWorker(): Worker {
  const self = import.meta.url;
  return new Worker(new URL(self.endsWith('.ts') ? '../../dist/reload/worker.js' : './worker.js', self));
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
