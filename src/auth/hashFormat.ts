/**
 * The algorithm-tagged hash strings stored in keys files, and their strict parser.
 * Every parameter is bounded so a hostile or careless file cannot make a single
 * verification burn unbounded CPU or memory.
 */

export type HashAlgorithm = 'sha256' | 'scrypt' | 'pbkdf2-sha512';

export type ParsedHash =
  | { algorithm: 'sha256'; digest: Buffer; text: string }
  | { algorithm: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer; text: string }
  | { algorithm: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer; text: string };

export type HashErrorCode = 'plaintext_secret' | 'unknown_algorithm' | 'bad_format' | 'bad_encoding' | 'bad_length' | 'bad_parameters';

/** `code` is stable (match on it); `error` is for humans and never echoes secret material. */
export interface HashError {
  error: string;
  code: HashErrorCode;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const SCRYPT_LIMITS = {
  minN: 2 ** 10,
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  /** 128·N·r bytes per run; the default (N=16384, r=8) needs 16 MiB. */
  maxMemoryBytes: 64 * 1024 * 1024,
  /** N·r·p, ~32× the default's work. */
  maxWork: 2 ** 22,
} as const;

export const PBKDF2_LIMITS = { minIterations: 1000, maxIterations: 10_000_000 } as const;

const SALT_BYTES = { min: 8, max: 64 } as const;
const HASH_BYTES = { min: 16, max: 64 } as const;
const SHA256_BYTES = 32;
// Far above any valid hash; stops regexes and decoders from seeing megabytes.
const MAX_TEXT_LENGTH = 512;

const SHA256_SHAPE = 'sha256$<base64url digest>';
const SCRYPT_SHAPE = 'scrypt$N=<n>,r=<r>,p=<p>$<base64url salt>$<base64url hash>';
const PBKDF2_SHAPE = 'pbkdf2-sha512$i=<iterations>$<base64url salt>$<base64url hash>';

export function parseHash(text: string): ParsedHash | HashError {
  if (text.length > MAX_TEXT_LENGTH) return fail('bad_format', `hash is longer than ${MAX_TEXT_LENGTH} characters`);
  const parts = text.split('$');
  if (parts.length === 1) {
    return fail('plaintext_secret', 'value has no "<algorithm>$" tag: it looks like a plaintext secret, not a hash');
  }
  switch (parts[0]) {
    case 'sha256':
      return parseSha256(text, parts);
    case 'scrypt':
      return parseScrypt(text, parts);
    case 'pbkdf2-sha512':
      return parsePbkdf2(text, parts);
    default:
      return unknownAlgorithm(parts[0]);
  }
}

export function isHashError(h: ParsedHash | HashError): h is HashError {
  return 'error' in h;
}

/** A reason the parameters are out of bounds, or undefined when they are fine. */
export function checkScryptParams({ N, r, p }: ScryptParams): string | undefined {
  const L = SCRYPT_LIMITS;
  if (!Number.isSafeInteger(N) || N < L.minN || N > L.maxN || (N & (N - 1)) !== 0) {
    return `scrypt N must be a power of two from ${L.minN} to ${L.maxN}`;
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > L.maxR) return `scrypt r must be from 1 to ${L.maxR}`;
  if (!Number.isSafeInteger(p) || p < 1 || p > L.maxP) return `scrypt p must be from 1 to ${L.maxP}`;
  if (128 * N * r > L.maxMemoryBytes) return `scrypt 128·N·r must not exceed ${L.maxMemoryBytes} bytes`;
  if (N * r * p > L.maxWork) return `scrypt N·r·p must not exceed ${L.maxWork}`;
  return undefined;
}

export function checkPbkdf2Iterations(iterations: number): string | undefined {
  const { minIterations, maxIterations } = PBKDF2_LIMITS;
  if (Number.isSafeInteger(iterations) && iterations >= minIterations && iterations <= maxIterations) return undefined;
  return `pbkdf2-sha512 iterations must be from ${minIterations} to ${maxIterations}`;
}

export function formatScrypt({ N, r, p }: ScryptParams, salt: Buffer, hash: Buffer): string {
  return `scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export function formatPbkdf2(iterations: number, salt: Buffer, hash: Buffer): string {
  return `pbkdf2-sha512$i=${iterations}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

function parseSha256(text: string, parts: string[]): ParsedHash | HashError {
  if (parts.length !== 2) return fail('bad_format', `sha256 hash must look like ${SHA256_SHAPE}`);
  const digest = decodeField(parts[1], 'sha256 digest', { min: SHA256_BYTES, max: SHA256_BYTES });
  if (isError(digest)) return digest;
  return { algorithm: 'sha256', digest, text };
}

const SCRYPT_PARAMS = /^N=([1-9][0-9]{0,7}),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})$/;

function parseScrypt(text: string, parts: string[]): ParsedHash | HashError {
  const match = parts.length === 4 ? SCRYPT_PARAMS.exec(parts[1]) : null;
  if (!match) return fail('bad_format', `scrypt hash must look like ${SCRYPT_SHAPE}`);
  const params = { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const bad = checkScryptParams(params);
  if (bad) return fail('bad_parameters', bad);
  const salted = decodeSaltAndHash('scrypt', parts[2], parts[3]);
  if (isError(salted)) return salted;
  return { algorithm: 'scrypt', ...params, ...salted, text };
}

const PBKDF2_PARAMS = /^i=([1-9][0-9]{0,7})$/;

function parsePbkdf2(text: string, parts: string[]): ParsedHash | HashError {
  const match = parts.length === 4 ? PBKDF2_PARAMS.exec(parts[1]) : null;
  if (!match) return fail('bad_format', `pbkdf2-sha512 hash must look like ${PBKDF2_SHAPE}`);
  const iterations = Number(match[1]);
  const bad = checkPbkdf2Iterations(iterations);
  if (bad) return fail('bad_parameters', bad);
  const salted = decodeSaltAndHash('pbkdf2-sha512', parts[2], parts[3]);
  if (isError(salted)) return salted;
  return { algorithm: 'pbkdf2-sha512', iterations, ...salted, text };
}

function decodeSaltAndHash(algorithm: string, salt: string, hash: string): { salt: Buffer; hash: Buffer } | HashError {
  const saltBytes = decodeField(salt, `${algorithm} salt`, SALT_BYTES);
  if (isError(saltBytes)) return saltBytes;
  const hashBytes = decodeField(hash, `${algorithm} hash`, HASH_BYTES);
  if (isError(hashBytes)) return hashBytes;
  return { salt: saltBytes, hash: hashBytes };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeField(value: string, what: string, bytes: { min: number; max: number }): Buffer | HashError {
  const decoded = BASE64URL.test(value) ? Buffer.from(value, 'base64url') : undefined;
  // Re-encoding rejects impossible lengths and non-zero trailing bits: one text per hash.
  if (!decoded || decoded.toString('base64url') !== value) {
    return fail('bad_encoding', `${what} is not unpadded base64url`);
  }
  if (decoded.length < bytes.min || decoded.length > bytes.max) {
    const range = bytes.min === bytes.max ? `${bytes.min}` : `${bytes.min} to ${bytes.max}`;
    return fail('bad_length', `${what} must be ${range} bytes, got ${decoded.length}`);
  }
  return decoded;
}

function unknownAlgorithm(tag: string): HashError {
  // Echo the tag only when it reads like an algorithm name: "pa$$word" must not leak "pa".
  if (/^[a-z][a-z0-9-]{0,23}$/.test(tag) && tag.length >= 3) {
    return fail('unknown_algorithm', `unknown hash algorithm "${tag}" (expected sha256, scrypt or pbkdf2-sha512)`);
  }
  return fail('unknown_algorithm', 'unknown hash algorithm: the value may be a plaintext secret, not a hash');
}

function isError<T extends object>(value: T | HashError): value is HashError {
  return 'error' in value && 'code' in value;
}

function fail(code: HashErrorCode, error: string): HashError {
  return { code, error };
}
