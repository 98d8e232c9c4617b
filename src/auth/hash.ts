import { hash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { type ParsedHash, type ScryptParams, checkPbkdf2Iterations, checkScryptParams, formatPbkdf2, formatScrypt } from './hashFormat.js';

export {
  type HashAlgorithm,
  type HashError,
  type HashErrorCode,
  type ParsedHash,
  type ScryptParams,
  PBKDF2_LIMITS,
  SCRYPT_LIMITS,
  isHashError,
  parseHash,
} from './hashFormat.js';

export type SlowAlgorithm = 'scrypt' | 'pbkdf2-sha512';
/** Overrides for tests and for operators who tune cost; bounded like parsed hashes. */
export type SlowHashParams = Partial<ScryptParams> & { iterations?: number };

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });
export const DEFAULT_PBKDF2_ITERATIONS = 210_000;
const SALT_BYTES = 16;
const OUTPUT_BYTES = 32;

export function isSlow(h: ParsedHash): boolean {
  return h.algorithm !== 'sha256';
}

/** For generated keys and high-entropy legacy secrets, where a KDF buys nothing. */
export function hashFast(secret: string): string {
  return `sha256$${hash('sha256', secret, 'base64url')}`;
}

/**
 * `salt`: give every low-entropy legacy key of an import the same one (see
 * `sharedLegacySalt`), so a presented legacy secret costs one KDF run for all of them.
 */
export async function hashSlow(
  secret: string,
  algorithm: SlowAlgorithm = 'scrypt',
  params: SlowHashParams = {},
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<string> {
  if (algorithm === 'pbkdf2-sha512') {
    const iterations = params.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    rejectIf(checkPbkdf2Iterations(iterations));
    return formatPbkdf2(iterations, salt, await pbkdf2Sha512(secret, salt, iterations, OUTPUT_BYTES));
  }
  const { N = DEFAULT_SCRYPT.N, r = DEFAULT_SCRYPT.r, p = DEFAULT_SCRYPT.p } = params;
  const scryptParams = { N, r, p };
  rejectIf(checkScryptParams(scryptParams));
  return formatScrypt(scryptParams, salt, await scryptAsync(secret, salt, OUTPUT_BYTES, scryptParams));
}

/**
 * The SHA-256 of the presented secret against the stored digest, every byte compared
 * whatever the first difference (constant time, as timingSafeEqual). The digest comes
 * back as a latin1 ('binary') string, one char per byte, rather than a Buffer: allocating a Buffer
 * per call cost more than hashing the secret (~1 µs of ~1.4 µs per verification).
 */
export function verifyFast(h: ParsedHash & { algorithm: 'sha256' }, secret: string): boolean {
  return digestMatches(h.digest, hash('sha256', secret, 'binary'));
}

export async function verifyHash(h: ParsedHash, secret: string): Promise<boolean> {
  if (h.algorithm === 'sha256') return verifyFast(h, secret);
  return safeEqual(h.hash, await deriveSlow(h, secret));
}

/** What the slow hash `h` would store for `secret`: its KDF with h's salt and parameters. */
export function deriveSlow(h: ParsedHash & { algorithm: SlowAlgorithm }, secret: string): Promise<Buffer> {
  return h.algorithm === 'scrypt'
    ? scryptAsync(secret, h.salt, h.hash.length, h)
    : pbkdf2Sha512(secret, h.salt, h.iterations, h.hash.length);
}

/** Whether `derived` is the hash `h` stores, in constant time. */
export function matchesDerived(h: ParsedHash & { algorithm: SlowAlgorithm }, derived: Buffer): boolean {
  return safeEqual(h.hash, derived);
}

/**
 * The salt a new batch of low-entropy legacy keys should share: that of the largest
 * group of existing legacy keys hashed with today's default scrypt parameters (so a
 * keys file converges on one salt), else a fresh one.
 */
export function sharedLegacySalt(existing: Iterable<ParsedHash>): Buffer {
  const bySalt = new Map<string, { salt: Buffer; n: number }>();
  for (const h of existing) {
    if (h.algorithm !== 'scrypt' || h.N !== DEFAULT_SCRYPT.N || h.r !== DEFAULT_SCRYPT.r || h.p !== DEFAULT_SCRYPT.p) continue;
    const k = h.salt.toString('base64url');
    const group = bySalt.get(k) ?? { salt: h.salt, n: 0 };
    group.n++;
    bySalt.set(k, group);
  }
  let best: { salt: Buffer; n: number } | undefined;
  for (const g of bySalt.values()) if (!best || g.n > best.n) best = g;
  return best ? Buffer.from(best.salt) : randomBytes(SALT_BYTES);
}

/**
 * Slow hashes that share algorithm, parameters and salt: one KDF run of a presented
 * secret tells which of them (if any) it matches.
 */
export function saltGroupOf(h: ParsedHash & { algorithm: SlowAlgorithm }): string {
  return h.text.slice(0, h.text.lastIndexOf('$'));
}

/**
 * Cache keys, so caches never hold a raw secret. `crypto.hash` (Node 20.12+, one-shot) is
 * the same SHA-256 of the UTF-8 bytes as createHash().update().digest() without a Hash
 * stream object per call (Hash, update and digest were ~3% of a proxied request's CPU).
 */
export function digestForCache(secret: string): string {
  return hash('sha256', secret, 'base64url');
}

/** `expected` (bytes) equals `actual` (a latin1 string of bytes), in time that depends on the length only. */
export function digestMatches(expected: Uint8Array, actual: string): boolean {
  if (expected.length !== actual.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ actual.charCodeAt(i);
  return diff === 0;
}

function safeEqual(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function scryptAsync(secret: string, salt: Buffer, length: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  // OpenSSL needs 128·r·(N + p + 2) bytes; parameters are bounded, so this is too.
  const maxmem = 128 * r * (N + p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, length, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function pbkdf2Sha512(secret: string, salt: Buffer, iterations: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(secret, salt, iterations, length, 'sha512', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function rejectIf(problem: string | undefined): void {
  if (problem) throw new RangeError(problem);
}
