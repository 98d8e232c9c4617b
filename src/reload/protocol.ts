import type { SourceMetas, Sources } from '../config/fingerprint.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { EncodedSnapshot } from './codec.js';

/** What a load worker is started with (its workerData). */
export interface WorkerStart {
  /** Started for a reload: lower the priority before anything else (see worker.ts). */
  readonly lowPriority: boolean;
}

/** Messages between asideLoader.ts (main thread) and worker.ts; `id` names one load. */
export type ToWorker = {
  type: 'load';
  id: number;
  mainFile: string;
  generation: number;
  env: Record<string, string | undefined>;
  /** Nothing is served yet: the worker keeps its normal priority for this load (see worker.ts). */
  startup: boolean;
};

export type ToMain =
  | { type: 'failed'; id: number; errors: readonly ConfigIssue[]; warnings: readonly ConfigIssue[]; sources: Sources; metas: SourceMetas }
  | { type: 'loaded'; id: number; snapshot: EncodedSnapshot; warnings: readonly ConfigIssue[]; sources: Sources; metas: SourceMetas }
  | { type: 'crashed'; id: number; message: string };
