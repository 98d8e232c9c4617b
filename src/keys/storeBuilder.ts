import { methodsText } from '../policy/methods.js';
import type { CompiledRule } from '../policy/rules.js';
import type { KeyRecord } from './record.js';
import { DIGEST_BYTES, F, FIELD_COUNT, FLAG, ID_BYTES, idHash, NONE, TIME_COUNT, type KeyStoreData } from './storeData.js';

/**
 * Lays validated keys out as a KeyStoreData: fixed-size fields in typed arrays, digests
 * in one slab, each distinct string, rule list and source-IP list once. Runs where the
 * keys were read (the load worker), so the main thread only receives the result.
 */
export function buildStoreData(keys: readonly KeyRecord[]): KeyStoreData {
  const count = keys.length;
  const strings = new Interner<string>();
  const ruleSets = new Interner<readonly CompiledRule[]>();
  ruleSets.add('', []);
  const cidrSets = new Interner<readonly string[]>();
  const ids = new Uint8Array(count * ID_BYTES);
  const fields = new Uint32Array(count * FIELD_COUNT);
  const times = new Float64Array(count * TIME_COUNT);
  const flags = new Uint8Array(count);
  const digests = new Uint8Array(count * DIGEST_BYTES);
  const positions: number[] = [];
  const slowHashes: [number, string][] = [];
  const graceHashes: [number, string, number][] = [];
  const str = (s: string | undefined): number => (s === undefined ? NONE : strings.add(s, s));
  keys.forEach((key, slot) => {
    ids.set(Buffer.from(key.id, 'latin1'), slot * ID_BYTES);
    const f = slot * FIELD_COUNT;
    fields[f + F.user] = str(key.user);
    fields[f + F.name] = str(key.name);
    fields[f + F.comment] = str(key.comment);
    fields[f + F.created] = str(key.created);
    fields[f + F.rotated] = str(key.rotated);
    fields[f + F.file] = str(key.file);
    fields[f + F.line] = key.line;
    fields[f + F.col] = key.col;
    fields[f + F.allowSet] = addRules(ruleSets, key.allow.rules);
    fields[f + F.denySet] = addRules(ruleSets, key.deny.rules);
    fields[f + F.sourceIPs] = key.sourceIPs ? cidrSets.add(key.sourceIPs.text.join(','), key.sourceIPs.text) : NONE;
    fields[f + F.rulePositions] = positions.length / 2;
    const shadowAllow = key.shadow?.allow?.rules;
    const shadowDeny = key.shadow?.deny?.rules;
    fields[f + F.shadowAllowSet] = shadowAllow ? addRules(ruleSets, shadowAllow) : NONE;
    fields[f + F.shadowDenySet] = shadowDeny ? addRules(ruleSets, shadowDeny) : NONE;
    for (const rule of [...key.allow.rules, ...key.deny.rules, ...(shadowAllow ?? []), ...(shadowDeny ?? [])])
      positions.push(rule.origin.line ?? 0, rule.origin.col ?? 0);
    times[slot * TIME_COUNT] = key.expires ?? NaN;
    times[slot * TIME_COUNT + 1] = key.notBefore ?? NaN;
    times[slot * TIME_COUNT + 2] = key.issued ?? NaN;
    flags[slot] = (key.disabled ? FLAG.disabled : 0) | (key.legacy ? FLAG.legacy : 0) | (key.scope === 'inherit' ? FLAG.inherit : 0);
    if (key.previous) graceHashes.push([slot, key.previous.hash.text, key.previous.expires]);
    if (key.hash.algorithm === 'sha256') digests.set(key.hash.digest, slot * DIGEST_BYTES);
    else {
      flags[slot] |= FLAG.slowHash;
      slowHashes.push([slot, key.hash.text]);
    }
  });
  const text = encodeStrings(strings.values);
  return {
    count,
    ids,
    table: idTable(keys),
    fields,
    times,
    flags,
    digests,
    rulePositions: Uint32Array.from(positions),
    strings: text.bytes,
    stringEnds: text.ends,
    ruleSets: ruleSets.values.map((rules) => rules.map(withoutOrigin)),
    cidrSets: cidrSets.values,
    slowHashes,
    graceHashes,
  };
}

/** Equal values, one index: `key` is the value's canonical text. */
class Interner<T> {
  readonly values: T[] = [];
  readonly #index = new Map<string, number>();

  add(key: string, value: T): number {
    let i = this.#index.get(key);
    if (i === undefined) {
      i = this.values.push(value) - 1;
      this.#index.set(key, i);
    }
    return i;
  }
}

/** Rule lists are equal when every rule matches the same requests: same order, service, methods, path, regions. */
function addRules(sets: Interner<readonly CompiledRule[]>, rules: readonly CompiledRule[]): number {
  const canonical = rules
    .map((r) => `${r.service} ${methodsText(r.methods)} ${r.path.text} ${r.regions ? [...r.regions].join(',') : '*'}`)
    .join('\n');
  return sets.add(canonical, rules);
}

/** The origin is the key's own (rebuilt from its id and rule positions); the shared rule keeps only its position in the list. */
function withoutOrigin(rule: CompiledRule): CompiledRule {
  return { ...rule, origin: { owner: '', index: rule.origin.index } };
}

function encodeStrings(values: readonly string[]): { bytes: Uint8Array; ends: Uint32Array } {
  const parts = values.map((s) => Buffer.from(s, 'utf8'));
  const ends = new Uint32Array(values.length);
  let end = 0;
  parts.forEach((p, i) => (ends[i] = end += p.length));
  const bytes = new Uint8Array(end);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, ends };
}

function idTable(keys: readonly KeyRecord[]): Uint32Array {
  let size = 16;
  while (size < keys.length * 2) size *= 2;
  const table = new Uint32Array(size);
  const mask = size - 1;
  keys.forEach((key, slot) => {
    let i = idHash(key.id) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  });
  return table;
}
