import type { Sources } from '../config/fingerprint.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { EncodedHead, EncodedKey } from './codec.js';

/** Messages between loadAside.ts (main thread) and loadWorker.ts; `id` names one load. */
export type ToWorker =
  | { type: 'load'; id: number; mainFile: string; generation: number; env: Record<string, string | undefined> }
  | { type: 'keys'; id: number; from: number; count: number };

export type ToMain =
  | { type: 'failed'; id: number; errors: readonly ConfigIssue[]; warnings: readonly ConfigIssue[]; sources: Sources }
  | { type: 'head'; id: number; head: EncodedHead; keyCount: number; warnings: readonly ConfigIssue[]; sources: Sources }
  | { type: 'keys'; id: number; keys: readonly EncodedKey[] }
  | { type: 'crashed'; id: number; message: string };
