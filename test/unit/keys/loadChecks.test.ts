import { describe, expect, it } from 'vitest';
import { hashFast } from '../../../src/auth/hash.js';
import { KeySet } from '../../../src/config/keySet.js';
import { eachKeyByLine } from '../../../src/keys/fastReader.js';
import { keysWorthAWarning } from '../../../src/keys/loadChecks.js';
import type { KeyStore } from '../../../src/keys/store.js';
import { keysText } from './keysCorpus.js';

/** The load's per-key warnings, read from the store's arrays, match the same checks done on every key's facts. */

const SERVICES = { services: new Set(['compute']), extraMethods: new Set<string>() };
const KNOWN = new Set(['joe', 'alice']);

function storeOf(text: string): KeyStore {
  const set = new KeySet();
  expect(eachKeyByLine('keys.yaml', text, SERVICES, (key) => set.add(key))).toBe(true);
  return set.finish().store;
}

/** The checks as load.ts made them before: one facts object and one map entry per key. */
function naive(store: KeyStore): unknown[] {
  const named = new Map<string, number>();
  const out: unknown[] = [];
  for (let slot = 0; slot < store.size; slot++) {
    const key = store.facts(slot);
    const twin = key.name === '' ? undefined : named.get(`${key.user}\n${key.name}`);
    if (twin === undefined && key.name !== '') named.set(`${key.user}\n${key.name}`, slot);
    const w = {
      slot,
      twin,
      unknownUser: !KNOWN.has(key.user),
      weakLegacy: key.legacy && key.hash!.algorithm !== 'sha256',
      restrictedWithoutAllow: key.scope === 'restricted' && key.allowCount === 0,
    };
    if (w.twin !== undefined || w.unknownUser || w.weakLegacy || w.restrictedWithoutAllow) out.push(w);
  }
  return out;
}

describe('keysWorthAWarning', () => {
  it('finds the same twins, unknown users, weak legacy keys and restricted keys without rules as a check of every key', () => {
    const extra: string[] = [];
    const users = ['joe', 'alice', 'bob', 'jöe'];
    const names = ['', 'ci', 'cï', 'deploy', 'ci '.trim(), 'x'.repeat(40)];
    for (let i = 0; i < 400; i++) {
      extra.push(`  - id: W${String(i).padStart(11, '0')}`, `    user: ${users[i % 4]}`, `    hash: "${hashFast(`s${i}`)}"`);
      const name = names[(i * 7) % names.length];
      if (name !== '') extra.push(`    name: "${name}"`);
      if (i % 3 === 0) extra.push('    scope: inherit');
      else if (i % 3 === 1) extra.push('    allow:', '      - { service: compute, path: "/x" }');
    }
    const store = storeOf(`${keysText(200)}${extra.join('\n')}\n`);
    const expected = naive(store);
    expect(expected.filter((w) => (w as { twin?: number }).twin !== undefined).length).toBeGreaterThan(100);
    expect(expected.filter((w) => (w as { unknownUser: boolean }).unknownUser).length).toBeGreaterThan(100);
    expect([...keysWorthAWarning(store, (user) => KNOWN.has(user))]).toEqual(expected);
  });
});
