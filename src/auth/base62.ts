import { randomBytes } from 'node:crypto';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// 248 = 4 × 62: bytes at or above it are rejected, so `byte % 62` stays uniform.
const REJECT_FROM = 248;

/** `length` characters drawn uniformly from the base62 alphabet. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // ~3% of bytes are rejected; a little headroom usually finishes in one draw.
    for (const byte of randomBytes(length + 8)) {
      if (out.length === length) break;
      if (byte < REJECT_FROM) out += BASE62_ALPHABET[byte % 62];
    }
  }
  return out;
}

/** `value` (a non-negative safe integer) in base62, left-padded with '0' to `width`. */
export function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = BASE62_ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

/** The value of a base62 string (`encodeBase62`'s inverse for its width); NaN if a character is not base62. */
export function decodeBase62(text: string): number {
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x5a ? c - 0x41 + 10 : c >= 0x61 && c <= 0x7a ? c - 0x61 + 36 : -1;
    if (digit < 0) return NaN;
    value = value * 62 + digit;
  }
  return value;
}
