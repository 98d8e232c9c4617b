import { describe, expect, it } from 'vitest';
import { hashFast, parseHash, type ParsedHash } from '../../../src/auth/hash.js';
import type { Snapshot } from '../../../src/config/snapshot.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import { KeyStore } from '../../../src/keys/store.js';
import { authorize } from '../../../src/policy/decide.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { pathSegments } from '../../../src/policy/pathPattern.js';
import { readingsOf } from '../../../src/policy/pathReadings.js';
import { compileRule, type CompiledRule } from '../../../src/policy/rules.js';
import { judgeShadow } from '../../../src/proxy/shadow.js';

/**
 * A key's `shadow:` candidate is the key with the candidate's lists: everything else (its
 * user, its issued time for `keys.enforce`) must be the key's own, also for a key store's
 * record, which reads some fields through getters.
 */
const everything = (owner: string): RuleMatcher =>
  new RuleMatcher([compileRule({ service: '*', path: '/**' }, { owner, index: 0 }) as CompiledRule]);
const DAY = 86_400_000;
const now = Date.parse('2026-12-01T00:00:00Z');

const key: KeyRecord = {
  id: 'K00000000001',
  user: 'joe',
  name: 'old-key',
  scope: 'restricted',
  allow: everything('key allow'),
  deny: new RuleMatcher([]),
  shadow: { allow: everything('key shadow allow') },
  sourceIPs: null,
  disabled: false,
  legacy: false,
  issued: now - 400 * DAY,
  hash: parseHash(hashFast('secret')) as ParsedHash,
  file: '/keys.yaml',
  line: 1,
  col: 3,
};

describe('a shadow candidate of a stored key', () => {
  const stored = KeyStore.fromKeys([key]).byId.get(key.id)!;
  const users = new Map([['joe', { name: 'joe', roles: ['all'], rules: everything('role all'), disabled: false, keyMaxAge: 90 * DAY }]]);
  const snapshot = { region: 'eu-west-1', users, guardrails: new RuleMatcher([]), keyRotation: { enforce: true } } as unknown as Snapshot;
  const segments = pathSegments('/v2/servers');
  const asked = {
    region: 'eu-west-1',
    service: 'compute',
    method: 'GET',
    segments,
    readings: readingsOf(segments),
    clientIp: '10.0.0.1',
    now,
  };

  it('is refused for its age as the key is, so no difference is reported', () => {
    const live = authorize(snapshot, stored, asked);
    expect(live).toMatchObject({ allow: false, reason: 'key_expired' });
    expect(judgeShadow(snapshot, stored, asked, [], live)).toBeUndefined();
  });

  it('keeps its user', () => {
    const young = KeyStore.fromKeys([{ ...key, issued: now - DAY }]).byId.get(key.id)!;
    const live = authorize(snapshot, young, asked);
    expect(live.allow).toBe(true);
    expect(judgeShadow(snapshot, young, asked, [], live)).toBeUndefined();
  });
});
