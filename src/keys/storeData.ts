import type { CompiledRule } from '../policy/rules.js';

/*
 * The compact key store as plain data: typed arrays (transferable as they are from the
 * load worker, so the main thread receives a store without rebuilding it) and a few
 * small lists of what keys share (rule sets, source-IP sets, strings).
 */

/** Every key id is 12 ASCII letters or digits (auth/keyFormat.ts). */
export const ID_BYTES = 12;
export const DIGEST_BYTES = 32;

/** The 32-bit fields of one key, `FIELD_COUNT` per key in `fields`. */
export const F = {
  /** The key's user: an index into `users` (users are few and shared by many keys). */
  user: 0,
  name: 1,
  comment: 2,
  created: 3,
  file: 4,
  line: 5,
  col: 6,
  allowSet: 7,
  denySet: 8,
  sourceIPs: 9,
  /** Index of the key's first rule position in `rulePositions` (pairs of line, col): allow rules, then deny rules. */
  rulePositions: 10,
  /** When the key's secret was last replaced (`key rotate`), as written. */
  rotated: 11,
  /** The rule sets of `shadow: { allow, deny }`; NONE when absent. Their positions follow the deny rules'. */
  shadowAllowSet: 12,
  shadowDenySet: 13,
} as const;
export const FIELD_COUNT = 14;
/** The Float64 fields of one key in `times` (NaN when absent); `created` is its text read with Date.parse, for the unused-keys count. */
export const T = { expires: 0, notBefore: 1, issued: 2, created: 3 } as const;
export const TIME_COUNT = 4;
/** A time field as a record has it: undefined when absent (NaN in `times`). */
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

export interface KeyStoreData {
  readonly count: number;
  /** `ID_BYTES` per key. */
  readonly ids: Uint8Array;
  /** Open addressing by id hash: slot + 1, 0 for empty; the length is a power of two, at least twice the count. */
  readonly table: Uint32Array;
  readonly fields: Uint32Array;
  /** expires, notBefore, issued, created (epoch ms) per key (`TIME_COUNT` each, see T); NaN when absent. */
  readonly times: Float64Array;
  readonly flags: Uint8Array;
  /** sha256 digest per key (zeros for keys hashed with a KDF, whose hashes are in `slowHashes`). */
  readonly digests: Uint8Array;
  readonly rulePositions: Uint32Array;
  /** Every distinct string, UTF-8, one after another; string i ends at `stringEnds[i]`. */
  readonly strings: Uint8Array;
  readonly stringEnds: Uint32Array;
  /** The string index of each user's name, by user number (F.user), in order of first use. */
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
    data.ids,
    data.table,
    data.fields,
    data.times,
    data.flags,
    data.digests,
    data.rulePositions,
    data.strings,
    data.stringEnds,
    data.users,
  ];
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
}

/** FNV-1a over the id's characters; ids are ASCII. */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** idHash of the id stored at `at` in an ids slab (ASCII: one byte a character). */
export function idHashAt(ids: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ID_BYTES; i++) h = Math.imul(h ^ ids[at + i], 0x01000193);
  return h >>> 0;
}
