import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HashErrorCode,
  type ParsedHash,
  digestForCache,
  digestMatches,
  hashFast,
  hashSlow,
  isHashError,
  isSlow,
  parseHash,
  verifyFast,
  verifyHash,
} from '../../../src/auth/hash.js';

const SECRET = 'correct horse battery staple';
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const FAST_PBKDF2 = { iterations: 1000 };
const b64 = (bytes: number, fill = 1): string => Buffer.alloc(bytes, fill).toString('base64url');

function parsed(text: string): ParsedHash {
  const h = parseHash(text);
  if (isHashError(h)) throw new Error(`expected a hash, got ${h.code}: ${h.error}`);
  return h;
}

function errorCode(text: string): HashErrorCode | undefined {
  const h = parseHash(text);
  return isHashError(h) ? h.code : undefined;
}

describe('sha256', () => {
  it('round-trips and rejects a wrong secret', () => {
    const h = parsed(hashFast(SECRET));
    expect(h.algorithm).toBe('sha256');
    expect(isSlow(h)).toBe(false);
    if (h.algorithm !== 'sha256') throw new Error('unreachable');
    expect(verifyFast(h, SECRET)).toBe(true);
    expect(verifyFast(h, SECRET + 'x')).toBe(false);
  });

  it('is the plain sha256 digest in base64url, and equals the cache digest', () => {
    const digest = createHash('sha256').update(SECRET).digest('base64url');
    expect(hashFast(SECRET)).toBe(`sha256$${digest}`);
    expect(digestForCache(SECRET)).toBe(digest);
  });

  it('verifyHash agrees with verifyFast', async () => {
    const h = parsed(hashFast(SECRET));
    await expect(verifyHash(h, SECRET)).resolves.toBe(true);
    await expect(verifyHash(h, 'nope')).resolves.toBe(false);
  });

  it('verifies exactly the secrets whose SHA-256 (of the UTF-8 bytes) is the stored digest', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }), (secret, other) => {
        const h = parsed(`sha256$${createHash('sha256').update(secret, 'utf8').digest('base64url')}`);
        if (h.algorithm !== 'sha256') throw new Error('unreachable');
        expect(verifyFast(h, secret)).toBe(true);
        expect(verifyFast(h, other)).toBe(other === secret);
      }),
      { numRuns: 500 },
    );
  });

  it('digestMatches compares every byte and refuses other lengths', () => {
    const digest = createHash('sha256').update(SECRET).digest();
    expect(digestMatches(digest, digest.toString('latin1'))).toBe(true);
    for (const at of [0, 15, 31]) {
      const changed = Buffer.from(digest);
      changed[at] ^= 0x80;
      expect(digestMatches(digest, changed.toString('latin1'))).toBe(false);
    }
    expect(digestMatches(digest, digest.subarray(0, 31).toString('latin1'))).toBe(false);
    expect(digestMatches(digest, `${digest.toString('latin1')}\0`)).toBe(false);
  });

  it('keeps the original text', () => {
    const text = hashFast(SECRET);
    expect(parsed(text).text).toBe(text);
  });
});

describe.each([
  ['scrypt', FAST_SCRYPT],
  ['pbkdf2-sha512', FAST_PBKDF2],
] as const)('%s', (algorithm, params) => {
  it('round-trips and rejects a wrong secret', async () => {
    const text = await hashSlow(SECRET, algorithm, params);
    const h = parsed(text);
    expect(h.algorithm).toBe(algorithm);
    expect(isSlow(h)).toBe(true);
    expect(h.text).toBe(text);
    await expect(verifyHash(h, SECRET)).resolves.toBe(true);
    await expect(verifyHash(h, SECRET.toUpperCase())).resolves.toBe(false);
    await expect(verifyHash(h, '')).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashSlow(SECRET, algorithm, params), hashSlow(SECRET, algorithm, params)]);
    expect(a).not.toBe(b);
  });
});

describe('hashSlow defaults', () => {
  it('uses scrypt N=16384,r=8,p=1 with a 16-byte salt and 32-byte output', async () => {
    const h = parsed(await hashSlow(SECRET));
    expect(h).toMatchObject({ algorithm: 'scrypt', N: 16384, r: 8, p: 1 });
    if (h.algorithm !== 'scrypt') throw new Error('unreachable');
    expect(h.salt).toHaveLength(16);
    expect(h.hash).toHaveLength(32);
    await expect(verifyHash(h, SECRET)).resolves.toBe(true);
  });

  it('uses 210000 pbkdf2 iterations', async () => {
    const text = await hashSlow(SECRET, 'pbkdf2-sha512');
    expect(text).toMatch(/^pbkdf2-sha512\$i=210000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['scrypt N not a power of two', 'scrypt', { N: 1000 }],
    ['scrypt N too small', 'scrypt', { N: 512 }],
    ['scrypt too much memory', 'scrypt', { N: 2 ** 20, r: 8 }],
    ['pbkdf2 too few iterations', 'pbkdf2-sha512', { iterations: 999 }],
  ] as const)('refuses out-of-bounds parameters: %s', async (_name, algorithm, params) => {
    await expect(hashSlow(SECRET, algorithm, params)).rejects.toThrow(RangeError);
  });
});

describe('parseHash errors', () => {
  const salt = b64(16);
  const hash = b64(32);
  it.each<[string, string, HashErrorCode]>([
    ['plaintext secret', 'hunter2', 'plaintext_secret'],
    ['empty', '', 'plaintext_secret'],
    ['unknown algorithm', `md5$${hash}`, 'unknown_algorithm'],
    ['wrong case tag', `SHA256$${b64(32)}`, 'unknown_algorithm'],
    ['sha256 extra part', `sha256$${b64(32)}$x`, 'bad_format'],
    ['sha256 padded base64', `sha256$${Buffer.alloc(32, 1).toString('base64')}`, 'bad_encoding'],
    ['sha256 standard base64 chars', `sha256$${'+'.repeat(43)}`, 'bad_encoding'],
    ['sha256 non-canonical trailing bits', `sha256$${b64(32).slice(0, -1)}B`, 'bad_encoding'],
    ['sha256 empty digest', 'sha256$', 'bad_encoding'],
    ['sha256 short digest', `sha256$${b64(31)}`, 'bad_length'],
    ['scrypt missing hash', `scrypt$N=1024,r=8,p=1$${salt}`, 'bad_format'],
    ['scrypt params out of order', `scrypt$r=8,N=1024,p=1$${salt}$${hash}`, 'bad_format'],
    ['scrypt leading zero', `scrypt$N=01024,r=8,p=1$${salt}$${hash}`, 'bad_format'],
    ['scrypt huge N digits', `scrypt$N=999999999999,r=8,p=1$${salt}$${hash}`, 'bad_format'],
    ['scrypt N not power of two', `scrypt$N=1000,r=8,p=1$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt N below 2^10', `scrypt$N=512,r=8,p=1$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt N above 2^20', `scrypt$N=2097152,r=1,p=1$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt r too big', `scrypt$N=1024,r=33,p=1$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt p too big', `scrypt$N=1024,r=8,p=17$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt memory bound', `scrypt$N=1048576,r=1,p=1$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt work bound', `scrypt$N=65536,r=8,p=16$${salt}$${hash}`, 'bad_parameters'],
    ['scrypt short salt', `scrypt$N=1024,r=8,p=1$${b64(7)}$${hash}`, 'bad_length'],
    ['scrypt short hash', `scrypt$N=1024,r=8,p=1$${salt}$${b64(15)}`, 'bad_length'],
    ['scrypt long hash', `scrypt$N=1024,r=8,p=1$${salt}$${b64(65)}`, 'bad_length'],
    ['scrypt bad salt encoding', `scrypt$N=1024,r=8,p=1$${salt}=$${hash}`, 'bad_encoding'],
    ['pbkdf2 missing iterations', `pbkdf2-sha512$${salt}$${hash}`, 'bad_format'],
    ['pbkdf2 wrong param name', `pbkdf2-sha512$n=1000$${salt}$${hash}`, 'bad_format'],
    ['pbkdf2 too few iterations', `pbkdf2-sha512$i=999$${salt}$${hash}`, 'bad_parameters'],
    ['pbkdf2 too many iterations', `pbkdf2-sha512$i=10000001$${salt}$${hash}`, 'bad_parameters'],
    ['pbkdf2 bad hash encoding', `pbkdf2-sha512$i=1000$${salt}$${hash}.`, 'bad_encoding'],
    ['very long text', `sha256$${'A'.repeat(600)}`, 'bad_format'],
  ])('%s → %s', (_name, text, code) => {
    expect(errorCode(text)).toBe(code);
  });

  it('names an unknown algorithm', () => {
    expect(parseHash(`bcrypt$${hash}`)).toMatchObject({ error: expect.stringContaining('unknown hash algorithm "bcrypt"') });
  });

  it('says a tagless value looks like a plaintext secret, without echoing it', () => {
    const h = parseHash('s3cr3t-value');
    expect(h).toMatchObject({ error: expect.stringMatching(/plaintext secret/) });
    expect(JSON.stringify(h)).not.toContain('s3cr3t');
  });

  it('does not echo a secret that merely contains "$"', () => {
    const h = parseHash('Pa$$w0rd!');
    expect(h).toMatchObject({ code: 'unknown_algorithm' });
    expect(JSON.stringify(h)).not.toContain('Pa');
  });

  it('accepts the bounds themselves', () => {
    const salt8 = b64(8);
    const hash64 = b64(64);
    expect(errorCode(`scrypt$N=1024,r=1,p=1$${salt8}$${hash64}`)).toBeUndefined();
    expect(errorCode(`scrypt$N=524288,r=1,p=1$${salt}$${hash}`)).toBeUndefined();
    expect(errorCode(`scrypt$N=16384,r=32,p=1$${salt}$${hash}`)).toBeUndefined();
    expect(errorCode(`pbkdf2-sha512$i=1000$${salt}$${hash}`)).toBeUndefined();
    expect(errorCode(`pbkdf2-sha512$i=10000000$${salt}$${hash}`)).toBeUndefined();
  });
});
