import type { Snapshot } from '../config/snapshot.js';
import { parseDuration } from '../reader/values.js';
import { MINUTE_MS, type KeyUse } from '../usage/keyUse.js';
import { readKeyUsage } from '../usage/reading.js';
import { unusedSince } from '../usage/unused.js';
import { didYouMean } from '../policy/suggest.js';
import { isoSeconds } from './keyArgs.js';
import { UsageError, type CliIO } from './io.js';

/** What `key list`, `key show` and `report` say about a key's use (null: never, or not known). */
export interface KeyUsageFields {
  lastUsed: string | null;
  lastDenied: string | null;
  lastClient: string | null;
}

export function keyUsageFields(use: KeyUse | undefined): KeyUsageFields {
  return {
    lastUsed: use && use.used > 0 ? isoSeconds(use.used * MINUTE_MS) : null,
    lastDenied: use && use.denied > 0 ? isoSeconds(use.denied * MINUTE_MS) : null,
    lastClient: use && use.client !== '' ? use.client : null,
  };
}

/** The saved usage; when it cannot be read, a warning on stderr and no usage (the command still answers). */
export async function readUsageFor(snapshot: Snapshot, io: CliIO): Promise<ReadonlyMap<string, KeyUse>> {
  const reading = await readKeyUsage(snapshot);
  if (reading.problem !== undefined)
    io.err(`warning: key usage could not be read from ${reading.source} (${reading.problem}); last used is unknown`);
  return reading.usage;
}

interface Aged {
  readonly lastUsed: string | null;
  readonly created: string | null;
}

/**
 * `--unused 30d`: no allowed use in the last 30 days. A key never used counts once its
 * `created` is that old (a key made yesterday is not yet unused); one without `created` always counts.
 */
export function unusedFilter(text: string | undefined, now: number): (k: Aged) => boolean {
  if (text === undefined) return () => true;
  const span = parseDuration(text);
  if (typeof span !== 'number' || span <= 0) throw new UsageError(`--unused "${text}" is not a positive duration (e.g. 30d, 90d, 12h)`);
  return (k) => isUnused(k, now - span);
}

function isUnused(k: Aged, since: number): boolean {
  return unusedSince(k.lastUsed === null ? undefined : Date.parse(k.lastUsed), k.created ?? undefined, since);
}

const SORTS = ['last-used'] as const;

/** `--sort last-used`: least recently used first, never-used keys at the top (the ones to look at). */
export function usageSorter(text: string | undefined): (keys: Aged[]) => void {
  if (text === undefined) return () => undefined;
  if (text !== 'last-used') throw new UsageError(`--sort "${text}" is not a sort order (${SORTS.join(', ')})${didYouMean(text, SORTS)}`);
  return (keys) => keys.sort((a, b) => (a.lastUsed ?? '').localeCompare(b.lastUsed ?? ''));
}
