import { describe, expect, it } from 'vitest';
import { hashFast, parseHash, type ParsedHash } from '../../../src/auth/hash.js';
import type { Snapshot } from '../../../src/config/snapshot.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import { KeyStore } from '../../../src/keys/store.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { keyState, noKeyStates, type UserPolicy } from '../../../src/policy/model.js';
import { minuteOf, type KeyUse } from '../../../src/usage/keyUse.js';
import { lastUsedMs, takeCensus, unusedSince } from '../../../src/usage/unused.js';

/**
 * The key gauges' census reads the key store's arrays a slice at a time; it must count what
 * the records say: keyState of each key, and unusedSince for the working ones.
 */
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T00:00:00Z');
const SPANS = [30, 90] as const;
const HASH = parseHash(hashFast('secret')) as ParsedHash;
const NONE = new RuleMatcher([]);
const USERS = ['joe', 'ann', 'old', 'gone'];
const CREATED = [undefined, 'not a date', '2026-11-20T00:00:00Z', '2026-01-01T00:00:00Z', '2025-06-01T12:30:00Z'];

/** Key i: a mix of users, states, dates and creation texts that repeats with i. */
function key(i: number): KeyRecord {
  const created = CREATED[i % CREATED.length];
  const issued = i % 3 === 0 ? undefined : NOW - (i % 200) * DAY;
  return {
    id: `K${String(i).padStart(11, '0')}`,
    user: USERS[i % USERS.length],
    name: `key-${i}`,
    scope: 'inherit',
    allow: NONE,
    deny: NONE,
    sourceIPs: null,
    disabled: i % 7 === 0,
    legacy: false,
    ...(i % 11 === 0 ? { expires: NOW - DAY } : i % 13 === 0 ? { expires: NOW + DAY } : {}),
    ...(i % 17 === 0 ? { notBefore: NOW + DAY } : {}),
    ...(issued !== undefined ? { issued } : {}),
    ...(created !== undefined ? { created } : {}),
    hash: HASH,
    file: '/keys.yaml',
    line: i + 1,
    col: 3,
  };
}

describe('the key census', () => {
  // More keys than one slice, so the count crosses slices.
  const records = Array.from({ length: 40_000 }, (_, i) => key(i));
  const users = new Map<string, UserPolicy>([
    ['joe', { name: 'joe', roles: [], rules: NONE, disabled: false, keyMaxAge: 90 * DAY }],
    ['ann', { name: 'ann', roles: [], rules: NONE, disabled: true }],
    ['old', { name: 'old', roles: [], rules: NONE, disabled: false, expires: NOW - 1 }],
  ]);
  const snapshot = { users, keyRotation: { enforce: false }, keys: KeyStore.fromKeys(records) } as unknown as Snapshot;
  const usage = new Map<string, KeyUse>();
  for (let i = 0; i < records.length; i += 3)
    usage.set(records[i].id, { used: i % 5 ? minuteOf(NOW - (i % 120) * DAY) : 0, denied: minuteOf(NOW), client: '10.0.0.1' });
  usage.set('K99999999999', { used: minuteOf(NOW), denied: 0, client: '10.0.0.1' }); // no such key

  it('counts states and unused keys as the records say', async () => {
    const census = await takeCensus(snapshot, usage, NOW, SPANS);
    const states = noKeyStates();
    const unused = Object.fromEntries(SPANS.map((days) => [days, 0])) as Record<(typeof SPANS)[number], number>;
    for (const k of records) {
      const state = keyState(snapshot, k, NOW);
      states[state] += 1;
      if (state !== 'active' && state !== 'rotation_due') continue;
      for (const days of SPANS) if (unusedSince(lastUsedMs(usage.get(k.id)), k.created, NOW - days * DAY)) unused[days] += 1;
    }
    expect(census.states).toEqual(states);
    expect(census.unused).toEqual(unused);
    expect(Object.values(census.states).filter((n) => n > 0).length).toBeGreaterThan(4);
    expect(unused[30]).toBeGreaterThan(unused[90]);
  });

  it('lets the event loop turn between slices', async () => {
    // Queued before the census starts: it runs before the census ends only if the census waits for a turn of the loop.
    let turned = false;
    setImmediate(() => (turned = true));
    await takeCensus(snapshot, new Map(), NOW, SPANS);
    expect(turned).toBe(true);
  });
});
