import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, decodeBase62, encodeBase62 } from '../../../src/auth/base62.js';
import { KEY_PREFIX, crc32Ascii, formatKey, generateKeyId, generateSecret, isKeyId, parseKey } from '../../../src/auth/keyFormat.js';

const ID = '7Hq2pXw9LmZ4';
const SECRET = 'a'.repeat(20) + 'B'.repeat(20) + '012';
const base62 = fc.constantFrom(...BASE62_ALPHABET);
const keyArb = fc
  .tuple(fc.string({ unit: base62, minLength: 12, maxLength: 12 }), fc.string({ unit: base62, minLength: 43, maxLength: 43 }))
  .map(([id, secret]) => formatKey(id, secret));

describe('generate and format', () => {
  it('produces ids and secrets of the documented shape', () => {
    for (let i = 0; i < 50; i++) {
      expect(isKeyId(generateKeyId())).toBe(true);
      expect(generateSecret()).toMatch(/^[0-9A-Za-z]{43}$/);
    }
  });

  it('draws secret characters roughly uniformly (rejection sampling, no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) for (const c of generateSecret()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (2000 * 43) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });

  it('formats kg_<id>_<secret><crc32 in 6 base62 chars>', () => {
    const key = formatKey(ID, SECRET);
    const body = `kg_${ID}_${SECRET}`;
    expect(key.startsWith(KEY_PREFIX)).toBe(true);
    expect(key).toBe(body + encodeBase62(crc32(body), 6));
    expect(key).toHaveLength(65);
  });

  it('zero-pads small checksums', () => {
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 6)).toBe('00000z');
    expect(encodeBase62(2 ** 32 - 1, 6)).toHaveLength(6);
  });

  it('refuses to format a bad id or secret', () => {
    expect(() => formatKey('short', SECRET)).toThrow(TypeError);
    expect(() => formatKey(ID, SECRET.slice(1))).toThrow(TypeError);
    expect(() => formatKey(ID, SECRET.slice(1) + '-')).toThrow(TypeError);
  });
});

describe('parseKey', () => {
  it('round-trips generated keys', () => {
    const id = generateKeyId();
    const secret = generateSecret();
    expect(parseKey(formatKey(id, secret))).toEqual({ kind: 'keygate', id, secret });
  });

  it('round-trips any id and secret (property)', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        const parsed = parseKey(key);
        expect(parsed.kind).toBe('keygate');
        if (parsed.kind === 'keygate') expect(formatKey(parsed.id, parsed.secret)).toBe(key);
      }),
    );
  });

  it('never accepts a key with one character substituted (property)', () => {
    const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(keyArb, fc.nat(64), printable, (key, at, replacement) => {
        fc.pre(key[at] !== replacement);
        const mutated = key.slice(0, at) + replacement + key.slice(at + 1);
        expect(parseKey(mutated).kind).not.toBe('keygate');
      }),
      { numRuns: 2000 },
    );
  });

  it('checks every position against every alphabet character for one key', () => {
    const key = formatKey(ID, SECRET);
    for (let at = 0; at < key.length; at++) {
      for (const c of BASE62_ALPHABET + '_') {
        if (c === key[at]) continue;
        const mutated = key.slice(0, at) + c + key.slice(at + 1);
        expect(parseKey(mutated).kind, `${at}:${c}`).not.toBe('keygate');
      }
    }
  });

  it('never accepts a key with one character deleted or inserted (property)', () => {
    fc.assert(
      fc.property(keyArb, fc.nat(64), base62, (key, at, extra) => {
        expect(parseKey(key.slice(0, at) + key.slice(at + 1)).kind).not.toBe('keygate');
        expect(parseKey(key.slice(0, at) + extra + key.slice(at)).kind).not.toBe('keygate');
      }),
    );
  });

  const valid = formatKey(ID, SECRET);
  it.each([
    ['kg_ prefix, nothing else', 'kg_'],
    ['wrong checksum', valid.slice(0, -1) + (valid.endsWith('0') ? '1' : '0')],
    ['missing checksum', `kg_${ID}_${SECRET}`],
    ['id too short', `kg_${ID.slice(1)}_${SECRET}x`],
    ['bad separator', valid.replace(`${ID}_`, `${ID}-`)],
    ['non-base62 in secret', valid.replace('a', '-')],
    ['trailing space', valid + ' '],
    ['trailing newline', valid + '\n'],
    ['empty', ''],
    ['space inside legacy', 'abc def'],
    ['tab', 'abc\tdef'],
    ['control char', 'abc\u0001'],
    ['DEL', 'abc\u007f'],
    ['non-ASCII', 'pässword'],
    ['too long', 'x'.repeat(513)],
  ])('%s is malformed', (_name, presented) => {
    expect(parseKey(presented)).toEqual({ kind: 'malformed' });
  });

  it.each([
    ['short password', 'hunter2'],
    ['uuid', '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b'],
    ['printable punctuation', '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'],
    ['512 chars', 'y'.repeat(512)],
    ['other prefix case', 'KG_' + valid.slice(3)],
  ])('%s is legacy', (_name, presented) => {
    expect(parseKey(presented)).toEqual({ kind: 'legacy', secret: presented });
  });
});

describe('isKeyId', () => {
  it.each([
    [ID, true],
    ['000000000000', true],
    ['7Hq2pXw9LmZ', false],
    ['7Hq2pXw9LmZ44', false],
    ['7Hq2pXw9LmZ_', false],
    ['', false],
  ])('%j → %s', (s, expected) => {
    expect(isKeyId(s)).toBe(expected);
  });
});

describe('the checksum without zlib', () => {
  it("crc32Ascii is zlib's crc32 on ASCII text", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 80 }), (s) => {
        expect(crc32Ascii(s)).toBe(crc32(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeBase62 inverts encodeBase62 and rejects other characters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        expect(decodeBase62(encodeBase62(n, 6))).toBe(n);
      }),
    );
    expect(decodeBase62('00000_')).toBeNaN();
  });

  it('accepts exactly the keys whose six last characters are the checksum of the rest', () => {
    fc.assert(
      fc.property(keyArb, fc.string({ unit: base62, minLength: 6, maxLength: 6 }), (key, sum) => {
        const body = key.slice(0, -6);
        const expected = encodeBase62(crc32(body), 6) === sum;
        expect(parseKey(body + sum).kind).toBe(expected ? 'keygate' : 'malformed');
        expect(parseKey(key).kind).toBe('keygate');
      }),
      { numRuns: 1000 },
    );
  });
});
