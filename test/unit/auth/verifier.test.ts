import { beforeAll, describe, expect, it } from 'vitest';
import { type ParsedHash, hashFast, hashSlow, isHashError, parseHash, sharedLegacySalt } from '../../../src/auth/hash.js';
import { formatKey, generateKeyId, generateSecret } from '../../../src/auth/keyFormat.js';
import { type VerifiableKey, KeyVerifier } from '../../../src/auth/verifier.js';
import { buildKeyIndex } from '../../../src/keys/keyIndex.js';

interface TestKey extends VerifiableKey {
  readonly name: string;
}

const SMALL_SCRYPT = { N: 1024, r: 8, p: 1 };

function parsed(text: string): ParsedHash {
  const h = parseHash(text);
  if (isHashError(h)) throw new Error(h.error);
  return h;
}

function key(name: string, hashText: string, legacy = false, id = generateKeyId()): TestKey {
  return { id, name, hash: parsed(hashText), legacy };
}

/** A generated key: the client's full key string and the stored record. */
function generated(name: string): { presented: string; key: TestKey } {
  const id = generateKeyId();
  const secret = generateSecret();
  return { presented: formatKey(id, secret), key: key(name, hashFast(secret), false, id) };
}

async function slowLegacy(name: string, secret: string): Promise<TestKey> {
  return key(name, await hashSlow(secret, 'scrypt', SMALL_SCRYPT), true);
}

describe('buildKeyIndex', () => {
  it('files keys by id, fast legacy digest and slow legacy list', async () => {
    const gen = generated('gen');
    const fast = key('fast', hashFast('legacy-high-entropy'), true);
    const slow = await slowLegacy('slow', 'pw');
    const index = buildKeyIndex([gen.key, fast, slow]);
    expect([...index.byId.keys()].sort()).toEqual([gen.key.id, fast.id, slow.id].sort());
    expect([...index.legacyByDigest.values()]).toEqual([fast]);
    expect(index.legacySlow).toEqual([slow]);
  });

  it('refuses duplicate ids and duplicate legacy secrets', () => {
    const a = key('a', hashFast('x'), true, 'AAAAAAAAAAAA');
    expect(() => buildKeyIndex([a, key('b', hashFast('y'), false, a.id)])).toThrow(
      expect.objectContaining({ code: 'KEYGATE_DUPLICATE_KEY_ID' }),
    );
    expect(() => buildKeyIndex([a, key('c', hashFast('x'), true)])).toThrow(
      expect.objectContaining({ code: 'KEYGATE_SAME_LEGACY_SECRET' }),
    );
  });
});

describe('KeyVerifier with generated keys', () => {
  const gen = generated('gen');
  const index = buildKeyIndex([gen.key]);
  const verifier = new KeyVerifier();

  it('accepts the right key', async () => {
    await expect(verifier.verify(index, gen.presented)).resolves.toEqual({ ok: true, key: gen.key });
  });

  it('answers bad_secret for a well-formed key with the wrong secret', async () => {
    const wrong = formatKey(gen.key.id, generateSecret());
    await expect(verifier.verify(index, wrong)).resolves.toEqual({ ok: false, reason: 'bad_secret', keyId: gen.key.id });
  });

  it('answers unknown_key for an id that is not in the index', async () => {
    const other = generated('other');
    await expect(verifier.verify(index, other.presented)).resolves.toEqual({
      ok: false,
      reason: 'unknown_key',
      keyId: other.key.id,
    });
  });

  it('answers malformed_credentials for a mangled key, without a lookup', async () => {
    const mangled = gen.presented.slice(0, -1) + (gen.presented.endsWith('A') ? 'B' : 'A');
    await expect(verifier.verify(index, mangled)).resolves.toEqual({ ok: false, reason: 'malformed_credentials' });
    await expect(verifier.verify(index, 'has space')).resolves.toEqual({ ok: false, reason: 'malformed_credentials' });
  });

  it('never runs a KDF for fast hashes', () => {
    expect(verifier.stats().kdfRuns).toBe(0);
  });

  it('does not let a kg_ key reach a legacy key by id', async () => {
    const secret = generateSecret();
    const legacy = key('legacy', hashFast(secret), true);
    const result = await verifier.verify(buildKeyIndex([legacy]), formatKey(legacy.id, secret));
    expect(result).toMatchObject({ ok: false, reason: 'unknown_key' });
  });
});

describe('KeyVerifier with a slow generated key', () => {
  it('runs the KDF once, then answers from the cache', async () => {
    const id = generateKeyId();
    const secret = generateSecret();
    const k = key('slow-gen', await hashSlow(secret, 'scrypt', SMALL_SCRYPT), false, id);
    const index = buildKeyIndex([k]);
    const verifier = new KeyVerifier();
    for (let i = 0; i < 3; i++) await expect(verifier.verify(index, formatKey(id, secret))).resolves.toEqual({ ok: true, key: k });
    const wrong = formatKey(id, generateSecret());
    for (let i = 0; i < 3; i++) {
      await expect(verifier.verify(index, wrong)).resolves.toEqual({ ok: false, reason: 'bad_secret', keyId: id });
    }
    expect(verifier.stats()).toEqual({ kdfRuns: 2, cacheHits: 2, negativeHits: 2 });
  });
});

describe('KeyVerifier with legacy secrets', () => {
  let alice: TestKey;
  let bob: TestKey;
  let fast: TestKey;
  beforeAll(async () => {
    alice = await slowLegacy('alice', 'alice-pw');
    bob = key('bob', await hashSlow('bob-pw', 'pbkdf2-sha512', { iterations: 1000 }), true);
    fast = key('fast', hashFast('Xq9v2LmP7wR4tZ8nK3bY6cXq9v2LmP7wR4tZ8nK3bY6c'), true);
  });

  it('finds a high-entropy legacy secret through its fast hash', async () => {
    const verifier = new KeyVerifier();
    const result = await verifier.verify(buildKeyIndex([fast, alice]), 'Xq9v2LmP7wR4tZ8nK3bY6cXq9v2LmP7wR4tZ8nK3bY6c');
    expect(result).toEqual({ ok: true, key: fast });
    expect(verifier.stats().kdfRuns).toBe(0);
  });

  it('answers unknown_key without a KDF when there are no slow legacy keys', async () => {
    const verifier = new KeyVerifier();
    await expect(verifier.verify(buildKeyIndex([fast]), 'alice-pw')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
    expect(verifier.stats().kdfRuns).toBe(0);
  });

  it('runs the KDF exactly once for repeated verifications of a slow secret', async () => {
    const verifier = new KeyVerifier();
    const index = buildKeyIndex([alice, bob]);
    for (let i = 0; i < 5; i++) await expect(verifier.verify(index, 'bob-pw')).resolves.toEqual({ ok: true, key: bob });
    // bob is second in the list: one scan tried alice, then bob.
    expect(verifier.stats()).toEqual({ kdfRuns: 2, cacheHits: 4, negativeHits: 0 });
  });

  it('shares one KDF run between concurrent requests with the same secret', async () => {
    const verifier = new KeyVerifier();
    const index = buildKeyIndex([alice]);
    const results = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(index, 'alice-pw')));
    for (const result of results) expect(result).toEqual({ ok: true, key: alice });
    expect(verifier.stats().kdfRuns).toBe(1);
  });

  it('remembers failures so a bad secret does not run the KDF again', async () => {
    const verifier = new KeyVerifier();
    const index = buildKeyIndex([alice, bob]);
    for (let i = 0; i < 5; i++) {
      await expect(verifier.verify(index, 'guess')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
    }
    expect(verifier.stats()).toEqual({ kdfRuns: 2, cacheHits: 0, negativeHits: 4 });
  });

  it('keeps a remembered failure across a reload with the same slow keys', async () => {
    const verifier = new KeyVerifier();
    await verifier.verify(buildKeyIndex([alice]), 'guess');
    await verifier.verify(buildKeyIndex([{ ...alice }]), 'guess');
    expect(verifier.stats()).toMatchObject({ kdfRuns: 1, negativeHits: 1 });
  });

  it('forgets a remembered failure when a new slow key could match', async () => {
    const verifier = new KeyVerifier();
    await expect(verifier.verify(buildKeyIndex([alice]), 'bob-pw')).resolves.toMatchObject({ ok: false });
    await expect(verifier.verify(buildKeyIndex([alice, bob]), 'bob-pw')).resolves.toEqual({ ok: true, key: bob });
  });

  it('invalidates a cached verdict when the key gets a new hash', async () => {
    const verifier = new KeyVerifier();
    await expect(verifier.verify(buildKeyIndex([alice]), 'alice-pw')).resolves.toEqual({ ok: true, key: alice });
    const rotated = { ...alice, hash: parsed(await hashSlow('alice-new-pw', 'scrypt', SMALL_SCRYPT)) };
    const index = buildKeyIndex([rotated]);
    await expect(verifier.verify(index, 'alice-pw')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
    await expect(verifier.verify(index, 'alice-new-pw')).resolves.toEqual({ ok: true, key: rotated });
    expect(verifier.stats()).toEqual({ kdfRuns: 3, cacheHits: 0, negativeHits: 0 });
  });

  it('invalidates a cached verdict when the key is removed', async () => {
    const verifier = new KeyVerifier();
    await verifier.verify(buildKeyIndex([alice, bob]), 'alice-pw');
    await expect(verifier.verify(buildKeyIndex([bob]), 'alice-pw')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
  });

  it("returns the key object of the caller's index after a reload", async () => {
    const verifier = new KeyVerifier();
    await verifier.verify(buildKeyIndex([alice]), 'alice-pw');
    const reloaded = { ...alice, name: 'alice (reloaded)' };
    await expect(verifier.verify(buildKeyIndex([reloaded]), 'alice-pw')).resolves.toEqual({ ok: true, key: reloaded });
    expect(verifier.stats()).toMatchObject({ kdfRuns: 1, cacheHits: 1 });
  });

  it('answers rate_limited (never a key verdict) at once when the KDF queue is full', async () => {
    const verifier = new KeyVerifier({ kdfConcurrency: 1, maxQueuedKdf: 1 });
    const index = buildKeyIndex([alice]);
    const running = verifier.verify(index, 'guess-1');
    const queued = verifier.verify(index, 'guess-2');
    const refused = verifier.verify(index, 'guess-3');
    const sharesRun = verifier.verify(index, 'guess-1');
    await expect(refused).resolves.toEqual({ ok: false, reason: 'rate_limited' });
    expect(verifier.stats().kdfRuns).toBeLessThanOrEqual(1);
    await Promise.all([running, queued, sharesRun]);
    expect(verifier.stats().kdfRuns).toBe(2);
    // The refused secret was not remembered as bad: it gets a real check once there is room.
    await verifier.verify(index, 'guess-3');
    expect(verifier.stats()).toMatchObject({ kdfRuns: 3, negativeHits: 0 });
  });

  it('lets the right secret through once the queue drains', async () => {
    const verifier = new KeyVerifier({ kdfConcurrency: 1, maxQueuedKdf: 0 });
    const index = buildKeyIndex([alice]);
    const first = verifier.verify(index, 'guess');
    await expect(verifier.verify(index, 'alice-pw')).resolves.toEqual({ ok: false, reason: 'rate_limited' });
    await first;
    await expect(verifier.verify(index, 'alice-pw')).resolves.toEqual({ ok: true, key: alice });
  });

  it("bounds each client's share of the queue, so one flooding client cannot starve another", async () => {
    const verifier = new KeyVerifier({ kdfConcurrency: 1, maxQueuedKdf: 8, maxKdfPerClient: 2 });
    const index = buildKeyIndex([alice]);
    const flood = Array.from({ length: 10 }, (_, i) => verifier.verify(index, `junk-${i}`, '198.51.100.7'));
    const honest = verifier.verify(index, 'alice-pw', '203.0.113.9');
    const results = await Promise.all(flood);
    expect(results.filter((r) => !r.ok && r.reason === 'rate_limited')).toHaveLength(8);
    expect(results.filter((r) => !r.ok && r.reason === 'unknown_key')).toHaveLength(2);
    await expect(honest).resolves.toEqual({ ok: true, key: alice });
  });
});

describe('KeyVerifier options', () => {
  it.each([{ kdfConcurrency: 0 }, { maxQueuedKdf: -1 }, { kdfConcurrency: 1.5 }, { maxKdfPerClient: 0 }])('rejects %j', (opts) => {
    expect(() => new KeyVerifier(opts)).toThrow(RangeError);
  });
});

describe('legacy keys sharing a salt', () => {
  it('a presented legacy secret costs one KDF run however many shared-salt legacy keys exist', async () => {
    const salt = sharedLegacySalt([]);
    const secrets = Array.from({ length: 16 }, (_, i) => `weak-pw-${i}`);
    const keys = await Promise.all(secrets.map(async (s, i) => key(`k${i}`, await hashSlow(s, 'scrypt', SMALL_SCRYPT, salt), true)));
    const index = buildKeyIndex(keys);
    const verifier = new KeyVerifier();
    await expect(verifier.verify(index, 'junk')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
    expect(verifier.stats().kdfRuns).toBe(1);
    await expect(verifier.verify(index, secrets[13])).resolves.toEqual({ ok: true, key: keys[13] });
    expect(verifier.stats().kdfRuns).toBe(2);
  });

  it('old-form keys (a salt each) still verify, one run per salt', async () => {
    const salt = sharedLegacySalt([]);
    const shared = await Promise.all(['a-pw', 'b-pw'].map(async (s) => key(s, await hashSlow(s, 'scrypt', SMALL_SCRYPT, salt), true)));
    const own = await Promise.all(['c-pw', 'd-pw'].map(async (s) => key(s, await hashSlow(s, 'scrypt', SMALL_SCRYPT), true)));
    const index = buildKeyIndex([...shared, ...own]);
    const verifier = new KeyVerifier();
    await expect(verifier.verify(index, 'd-pw')).resolves.toEqual({ ok: true, key: own[1] });
    await expect(verifier.verify(index, 'nope')).resolves.toEqual({ ok: false, reason: 'unknown_key' });
    // Three salts (the shared one, c's, d's): three runs per presented secret.
    expect(verifier.stats().kdfRuns).toBe(6);
  });

  it('a new import joins the largest default-parameter salt group', async () => {
    const salt = sharedLegacySalt([]);
    const a = parsed(await hashSlow('x', 'scrypt', {}, salt));
    const b = parsed(await hashSlow('y', 'scrypt', {}, salt));
    const lone = parsed(await hashSlow('z', 'scrypt'));
    expect(sharedLegacySalt([lone, a, b]).equals(salt)).toBe(true);
  });
});
