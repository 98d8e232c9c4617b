import { crc32 } from 'node:zlib';
import { decodeBase62, encodeBase62, randomBase62 } from './base62.js';

export { estimateEntropyBits } from './entropy.js';

/** Recognisable by secret scanners; never part of a legacy secret we can parse. */
export const KEY_PREFIX = 'kg_';
export const KEY_ID_LENGTH = 12;
/** 43 × log2(62) ≈ 256.03 bits. */
export const SECRET_LENGTH = 43;
/** 62^6 > 2^32, so six characters hold any CRC-32. */
export const CHECKSUM_LENGTH = 6;
/** Longest presented string treated as a legacy secret. */
export const MAX_LEGACY_LENGTH = 512;

export type ParsedKey = { kind: 'keygate'; id: string; secret: string } | { kind: 'malformed' } | { kind: 'legacy'; secret: string };

const KEY_ID = /^[0-9A-Za-z]{12}$/;
const KEY = /^kg_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/;
const KEY_LENGTH = KEY_PREFIX.length + KEY_ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH;
const LEGACY = /^[\x21-\x7e]+$/;
const MALFORMED: ParsedKey = Object.freeze({ kind: 'malformed' });

export function generateKeyId(): string {
  return randomBase62(KEY_ID_LENGTH);
}

export function generateSecret(): string {
  return randomBase62(SECRET_LENGTH);
}

export function formatKey(id: string, secret: string): string {
  if (!isKeyId(id)) throw new TypeError('key id must be 12 base62 characters');
  if (!/^[0-9A-Za-z]{43}$/.test(secret)) throw new TypeError('key secret must be 43 base62 characters');
  const body = `${KEY_PREFIX}${id}_${secret}`;
  return body + checksum(body);
}

export function isKeyId(s: string): boolean {
  return KEY_ID.test(s);
}

/** Classifies a presented credential without any lookup. */
export function parseKey(presented: string): ParsedKey {
  if (presented.startsWith(KEY_PREFIX)) return parseKeygateKey(presented);
  if (presented.length > MAX_LEGACY_LENGTH || !LEGACY.test(presented)) return MALFORMED;
  return { kind: 'legacy', secret: presented };
}

function parseKeygateKey(presented: string): ParsedKey {
  if (presented.length !== KEY_LENGTH) return MALFORMED;
  const match = KEY.exec(presented);
  if (!match) return MALFORMED;
  const [, id, secret, sum] = match;
  // A mangled key is rejected here so it never costs a lookup.
  if (decodeBase62(sum) !== crc32Ascii(presented, KEY_LENGTH - CHECKSUM_LENGTH)) return MALFORMED;
  return { kind: 'keygate', id, secret };
}

function checksum(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}

/** zlib's CRC-32 table (IEEE 802.3, reflected polynomial 0xEDB88320). */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/**
 * `crc32` of node:zlib over the first `length` characters of an ASCII string (a key the
 * KEY pattern matched: its characters are its UTF-8 bytes), in JavaScript: the native
 * call and its string-to-bytes copy cost more than the 59 table steps (~1 µs per request).
 */
export function crc32Ascii(s: string, length = s.length): number {
  let c = -1;
  for (let i = 0; i < length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
