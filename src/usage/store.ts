import type { UsageMap } from './keyUse.js';

/** Where the usage of a fleet (or of one proxy) is kept: a state file, or a Redis hash. */
export interface UsageStore {
  /** For logs: the file or `redis` (never a URL: it may hold a password). */
  readonly where: string;
  /** How often the proxy sends what it recorded. */
  readonly flushMs: number;
  /** Every key's usage as stored now. */
  read(): Promise<UsageMap>;
  /** Merges `changes` in, newest wins; returns the whole state when it came for free (the file), else undefined. */
  merge(changes: UsageMap): Promise<UsageMap | undefined>;
  close(): Promise<void>;
}
