import type { CompiledRule } from '../policy/rules.js';

/*
 * The compact key store as plain data: typed arrays (transferable as they are from the
 * load worker, so the main thread receives a store without rebuilding it) and a few
 * small lists of what keys share (rule sets, source-IP sets, strings).
 */

/** Every key id is 12 ASCII letters or digits (auth/keyFormat.ts). */
export const ID_BYTES = 12;
export const DIGEST_BYTES = 32;

/**
 * Each key's row: what a lookup and a decision read of the key, in one block of
 * `ROW_BYTES` — the id's 12 bytes, then 32-bit words (R), then Float64 times (T). At a
 * million keys the store is ~130 MB and every array a lookup touches is a cache miss of
 * its own; with the id, flags, user, rule sets and times in separate arrays a decision
 * waited for five of them, in one row it waits for one block (bench:policy at 1,000,000
 * keys: about 0.8× the time a decision took with separate arrays).
 *
 * Rows are kept in the order of their id's hash bucket (`buckets`), not in file order:
 * a lookup reads the bucket's bounds from a small array (2–4 bytes a key, mostly in the
 * CPU's cache) and then the rows themselves, instead of a hash table entry that at a
 * million keys was one more memory miss before the row. A key's slot (its place in file
 * order, which `fields`, `digests` and every other per-key array use) is in its row;
 * `rowOf` goes the other way.
 */
export const ROW_BYTES = 64;
export const ROW_WORDS = ROW_BYTES / 4;
export const ROW_TIMES = ROW_BYTES / 8;
/** The 32-bit words of a row; words 0-2 hold the id. */
export const R = {
  /** FLAG bits in the low byte, the key's slot above them (SLOT_SHIFT). */
  flags: 3,
  /** The key's user: an index into `users` (users are few and shared by many keys). */
  user: 4,
  allowSet: 5,
  denySet: 6,
  sourceIPs: 7,
} as const;
/** The Float64s of a row (NaN when absent); `created` is its text read with Date.parse, for the unused-keys count. */
export const T = { expires: 4, notBefore: 5, issued: 6, created: 7 } as const;

/** The 32-bit fields of one key that only commands, reports and explain read, `FIELD_COUNT` per key in `fields`. */
export const F = {
  name: 0,
  comment: 1,
  created: 2,
  file: 3,
  line: 4,
  col: 5,
  /** Index of the key's first rule position in `rulePositions` (pairs of line, col): allow rules, then deny rules. */
  rulePositions: 6,
  /** When the key's secret was last replaced (`key rotate`), as written. */
  rotated: 7,
  /** The rule sets of `shadow: { allow, deny }`; NONE when absent. Their positions follow the deny rules'. */
  shadowAllowSet: 8,
  shadowDenySet: 9,
} as const;
export const FIELD_COUNT = 10;
/** A time field as a record has it: undefined when absent (NaN in `rowTimes`). */
export function presentTime(ms: number): number | undefined {
  return Number.isNaN(ms) ? undefined : ms;
}

/** A key's `created` text as epoch ms, as the unused-keys count reads it: NaN when absent or unreadable. */
export function createdMs(created: string | undefined): number {
  return created === undefined ? NaN : Date.parse(created);
}

/** A string or set field that is absent. */
export const NONE = 0xffffffff;

export const FLAG = { disabled: 1, legacy: 2, inherit: 4, slowHash: 8 } as const;
/** A row's flags word holds the key's slot from this bit up: a store holds at most MAX_KEYS keys. */
export const SLOT_SHIFT = 8;
export const MAX_KEYS = 2 ** (32 - SLOT_SHIFT);

export interface KeyStoreData {
  readonly count: number;
  /** `ROW_BYTES` per key, the id first, in bucket order; `rowWords` and `rowTimes` view the same buffer. */
  readonly rows: Uint8Array;
  readonly rowWords: Uint32Array;
  readonly rowTimes: Float64Array;
  /**
   * The rows of hash bucket b (the top `log2(buckets.length - 1)` bits of idHash) are rows
   * buckets[b] to buckets[b + 1] (not included), in file order; a power of two plus one entries.
   */
  readonly buckets: Uint32Array;
  /** The row of each slot. */
  readonly rowOf: Uint32Array;
  /** `FIELD_COUNT` per key (F). */
  readonly fields: Uint32Array;
  /** sha256 digest per key (zeros for keys hashed with a KDF, whose hashes are in `slowHashes`). */
  readonly digests: Uint8Array;
  readonly rulePositions: Uint32Array;
  /** Every distinct string, UTF-8, one after another; string i ends at `stringEnds[i]`. */
  readonly strings: Uint8Array;
  readonly stringEnds: Uint32Array;
  /** The string index of each user's name, by user number (R.user), in order of first use. */
  readonly users: Uint32Array;
  /** Distinct rule lists, origins stripped; set 0 is the empty list. */
  readonly ruleSets: readonly (readonly CompiledRule[])[];
  readonly cidrSets: readonly (readonly string[])[];
  /** Hash text of each KDF-hashed key, by slot: they are few, and verified slowly anyway. */
  readonly slowHashes: readonly (readonly [number, string])[];
  /**
   * The slots of legacy keys, ascending (few, often none): the main thread indexes them
   * when a store arrives, and a loop over every key's flags there took ~19 ms at
   * 1,000,000 keys (run once, so never optimised) in the middle of a reload.
   */
  readonly legacySlots: readonly number[];
  /** Keys in a rotation grace period, few at a time: slot, the previous hash's text, until when (epoch ms). */
  readonly graceHashes: readonly (readonly [number, string, number])[];
}

/** The buffers to hand to postMessage's transfer list. */
export function transferables(data: KeyStoreData): ArrayBuffer[] {
  const views = [
    data.rows,
    data.buckets,
    data.rowOf,
    data.fields,
    data.digests,
    data.rulePositions,
    data.strings,
    data.stringEnds,
    data.users,
  ];
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
}

/** Views of a rows buffer (ROW_BYTES per key). */
export function rowViews(buffer: ArrayBufferLike): Pick<KeyStoreData, 'rows' | 'rowWords' | 'rowTimes'> {
  return { rows: new Uint8Array(buffer), rowWords: new Uint32Array(buffer), rowTimes: new Float64Array(buffer) };
}

/** FNV-1a over the id's characters; ids are ASCII. */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** idHash of the id stored at byte `at` of `rows` (ASCII: one byte a character). */
export function idHashAt(rows: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ID_BYTES; i++) h = Math.imul(h ^ rows[at + i], 0x01000193);
  return h >>> 0;
}
