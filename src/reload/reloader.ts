import type { SourceMetas, Sources } from '../config/fingerprint.js';
import type { ConfigIssue } from '../reader/issues.js';
import { sharedAsideLoader, type LoadOptions } from './asideLoader.js';
import type { LoadResult } from '../config/load.js';
import type { Snapshot } from '../config/snapshot.js';
import { describeListener } from '../config/listenerReader.js';
import { ConfigWatcher, type CheckReason } from './watch.js';

/** What asked for a reload: a file event, the periodic check, SIGHUP, or a direct call. */
export type ReloadTrigger = CheckReason | 'signal' | 'api';

export type ReloadOutcome =
  | {
      readonly result: 'success';
      readonly trigger: ReloadTrigger;
      readonly snapshot: Snapshot;
      readonly warnings: readonly ConfigIssue[];
      /** Settings that changed in the files but only take effect after a restart (see RESTART_ONLY). */
      readonly restartRequired: readonly string[];
      /** The followed files whose content had changed (empty for a forced reload of unchanged files). */
      readonly changed: readonly string[];
      readonly durationMs: number;
    }
  | {
      readonly result: 'failure';
      readonly trigger: ReloadTrigger;
      /** Config problems, located; empty when `cause` is set. */
      readonly errors: readonly ConfigIssue[];
      readonly warnings: readonly ConfigIssue[];
      /** The loader itself broke (a bug or a dead worker), not the files. */
      readonly cause?: Error;
      readonly changed: readonly string[];
      readonly durationMs: number;
    }
  /** Nothing changed on disk, or the reloader was closed meanwhile. */
  | { readonly result: 'unchanged' | 'closed'; readonly trigger: ReloadTrigger };

export interface SnapshotLoader {
  load(mainFile: string, options: LoadOptions): Promise<LoadResult>;
}

export interface ReloaderOptions {
  readonly mainFile: string;
  readonly env: NodeJS.ProcessEnv;
  /** What the running config was loaded from (the start-up load). */
  readonly sources: Sources;
  /** The metadata of the start-up load's files that were stable when read (LoadResult `metas`). */
  readonly metas?: SourceMetas;
  /** The snapshot in use; the next one gets its generation + 1. */
  readonly current: () => Snapshot;
  /** Swaps in a validated snapshot. */
  readonly apply: (next: Snapshot) => void;
  /** Every reload that did something, for logs and metrics. */
  readonly report: (outcome: ReloadOutcome) => void;
  /** false: no file watching; `reload()` (SIGHUP) still works. */
  readonly watch?: boolean;
  /** Default: the process's worker-thread loader (loadAside.ts), shared by every instance and never closed here. */
  readonly loader?: SnapshotLoader;
}

/**
 * Settings bound when listeners open or when metrics are registered: a reload can
 * change them in the files but not in the running process.
 */
const RESTART_ONLY: readonly (readonly [string, (s: Snapshot) => unknown])[] = [
  ['listen.proxy', (s) => describeListener(s.listen.proxy)],
  ['listen.admin', (s) => describeListener(s.listen.admin)],
  ['listen.check', (s) => describeListener(s.listen.check)],
  ['limits.headers', (s) => s.limits.headers],
  ['metrics.perKeyLabels', (s) => s.metrics.perKeyLabels],
  ['rateLimiting.backend', (s) => s.rateLimits.backend],
  ['rateLimiting.redis', (s) => JSON.stringify(s.rateLimits.redis ?? null)],
];

/** The RESTART_ONLY values of a snapshot, kept instead of the snapshot itself (which may hold 100,000 keys). */
export function restartOnlySettings(s: Snapshot): unknown[] {
  return RESTART_ONLY.map(([, value]) => value(s));
}

export function restartRequired(running: readonly unknown[], next: Snapshot): string[] {
  return RESTART_ONLY.filter(([, value], i) => value(next) !== running[i]).map(([name]) => name);
}

interface Queued {
  trigger: ReloadTrigger;
  forced: boolean;
  readonly waiters: ((outcome: ReloadOutcome) => void)[];
}

/**
 * Hot reload: build the new snapshot aside (in a worker), validate all of it, swap one
 * reference; an invalid config leaves the last good one serving. Never two reloads at
 * once: requests that arrive during one are merged into a single next run.
 */
export class Reloader {
  readonly #options: ReloaderOptions;
  readonly #loader: SnapshotLoader;
  readonly #watcher: ConfigWatcher | undefined;
  /** What the listeners and metrics were set up with: what only a restart would change. */
  readonly #running: readonly unknown[];
  #busy: Promise<void> | undefined;
  #queued: Queued | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: ReloaderOptions) {
    this.#options = options;
    this.#loader = options.loader ?? sharedAsideLoader();
    const initial = options.current();
    this.#running = restartOnlySettings(initial);
    if (options.watch !== false) {
      this.#watcher = new ConfigWatcher({ timing: initial.reload, onCheck: (reason) => void this.#request(reason, false) });
      this.#watcher.follow(options.sources, options.metas);
    }
  }

  /** Reloads even if no file changed (SIGHUP); resolves when a reload that started after this call is done. */
  reload(trigger: ReloadTrigger = 'api'): Promise<ReloadOutcome> {
    return this.#request(trigger, true);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    const queued = this.#queued;
    this.#queued = undefined;
    queued?.waiters.forEach((w) => w({ result: 'closed', trigger: queued.trigger }));
    this.#abort.abort(); // a load still running stops now
    await this.#busy;
  }

  #request(trigger: ReloadTrigger, forced: boolean): Promise<ReloadOutcome> {
    if (this.#closed) return Promise.resolve({ result: 'closed', trigger });
    return new Promise((resolve) => {
      const q = this.#queued;
      if (q) {
        if (forced && !q.forced) q.trigger = trigger;
        q.forced ||= forced;
        q.waiters.push(resolve);
      } else {
        this.#queued = { trigger, forced, waiters: [resolve] };
      }
      this.#pump();
    });
  }

  #pump(): void {
    const job = this.#queued;
    if (this.#busy || !job || this.#closed) return;
    this.#queued = undefined;
    this.#busy = this.#run(job.trigger, job.forced)
      .catch((e: unknown): ReloadOutcome => this.#failed(job.trigger, [], { cause: asError(e), warnings: [], durationMs: 0 }))
      .then((outcome) => job.waiters.forEach((w) => w(outcome)))
      .finally(() => {
        this.#busy = undefined;
        this.#pump();
      });
  }

  async #run(trigger: ReloadTrigger, forced: boolean): Promise<ReloadOutcome> {
    const changed = await this.#changedFiles();
    if (!forced && changed.length === 0) return { result: 'unchanged', trigger };
    const started = performance.now();
    const current = this.#options.current();
    let result: LoadResult;
    try {
      result = await this.#loader.load(this.#options.mainFile, {
        generation: current.generation + 1,
        env: this.#options.env,
        signal: this.#abort.signal,
      });
    } catch (e) {
      if (this.#closed) return { result: 'closed', trigger };
      // Sources stay as they were, so the next check tries again.
      return this.#failed(trigger, changed, { cause: asError(e), warnings: [], durationMs: performance.now() - started });
    }
    if (this.#closed) return { result: 'closed', trigger };
    this.#watcher?.follow(result.sources, result.metas); // after a failed load: only the files it got to, as they were
    const durationMs = performance.now() - started;
    if (!result.ok) return this.#failed(trigger, changed, { errors: result.errors, warnings: result.warnings, durationMs });
    const next = result.snapshot;
    this.#options.apply(next);
    this.#watcher?.setTiming(next.reload);
    const outcome: ReloadOutcome = {
      result: 'success',
      trigger,
      snapshot: next,
      warnings: result.warnings,
      restartRequired: restartRequired(this.#running, next),
      changed,
      durationMs,
    };
    this.#report(outcome);
    return outcome;
  }

  /** Without a watcher (watch: false) every reload is forced, so there is nothing to compare. */
  async #changedFiles(): Promise<string[]> {
    return this.#watcher ? this.#watcher.changed() : [];
  }

  #failed(
    trigger: ReloadTrigger,
    changed: readonly string[],
    detail: { errors?: readonly ConfigIssue[]; warnings: readonly ConfigIssue[]; cause?: Error; durationMs: number },
  ): ReloadOutcome {
    const outcome: ReloadOutcome = {
      result: 'failure',
      trigger,
      errors: detail.errors ?? [],
      warnings: detail.warnings,
      changed,
      durationMs: detail.durationMs,
      ...(detail.cause ? { cause: detail.cause } : {}),
    };
    if (!this.#closed) this.#report(outcome);
    return outcome;
  }

  /** Reporting is the only channel left to tell about a failure, so one of its own cannot escape (an unhandled rejection ends the process). */
  #report(outcome: ReloadOutcome): void {
    try {
      this.#options.report(outcome);
    } catch {
      // nowhere left to say it
    }
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
