/**
 * When each key was last used: the newest allowed and denied use, at minute resolution,
 * and the client address of the newest use. Never a secret: key ids, minutes, addresses.
 */
export interface KeyUse {
  /** Epoch minute of the newest allowed request; 0 = never. */
  used: number;
  /** Epoch minute of the newest denied request (the key authenticated, the request was refused); 0 = never. */
  denied: number;
  /** The client address of the newest use, allowed or denied. */
  client: string;
}

export type UsageMap = Map<string, KeyUse>;

export const MINUTE_MS = 60_000;

/** Client addresses are at most an IPv6 text; anything longer in a state file is not ours. */
const MAX_CLIENT = 64;
const MAX_ID = 64;

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** The newest use of either kind. */
export function newestMinute(use: KeyUse): number {
  return use.used > use.denied ? use.used : use.denied;
}

/**
 * Two views of one key, merged: the newest minute of each kind wins, and the client goes
 * with the newest use (on a tie, `from`'s: it was written later). Order-independent
 * otherwise, so writers that merge each other's work in any order agree.
 */
export function mergeUse(into: KeyUse | undefined, from: KeyUse): KeyUse {
  if (into === undefined) return { used: from.used, denied: from.denied, client: from.client };
  return {
    used: Math.max(into.used, from.used),
    denied: Math.max(into.denied, from.denied),
    client: newestMinute(from) >= newestMinute(into) ? from.client : into.client,
  };
}

/** Merges every entry of `source` into `target` (newest wins); returns `target`. */
export function mergeInto(target: UsageMap, source: Iterable<readonly [string, KeyUse]>): UsageMap {
  for (const [id, use] of source) target.set(id, mergeUse(target.get(id), use));
  return target;
}

/** A well-formed entry read from a file or Redis, or undefined (ignored: the state is advisory). */
export function checkedUse(id: unknown, used: unknown, denied: unknown, client: unknown): [string, KeyUse] | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) return undefined;
  if (!isMinute(used) || !isMinute(denied)) return undefined;
  if (typeof client !== 'string' || client.length > MAX_CLIENT) return undefined;
  return [id, { used, denied, client }];
}

function isMinute(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e9;
}
