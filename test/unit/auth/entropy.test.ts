import { describe, expect, it } from 'vitest';
import { estimateEntropyBits, generateSecret } from '../../../src/auth/keyFormat.js';

const HIGH = 128;

describe('estimateEntropyBits', () => {
  it.each([
    ['empty', '', 0],
    ['one digit', '7', Math.log2(10)],
    ['lower only', 'abcdefgh', 8 * Math.log2(26)],
    ['lower + upper', 'abcDEF', 6 * Math.log2(52)],
    ['all four classes', 'aB3!', 4 * Math.log2(94)],
    ['hex counts as 16', '0123456789abcdef', 16 * 4],
    ['upper hex counts as 16', 'DEADBEEF01', 10 * 4],
    ['digits stay 10', '31415926', 8 * Math.log2(10)],
    ['a run of one character squeezes to 2 symbols', 'x'.repeat(100), 2 * Math.log2(26)],
    ['a repeated word squeezes to its period + 1', 'Password1!'.repeat(5), 11 * Math.log2(94)],
    ['short chance repeats are not penalised', 'abcXabcY', 8 * Math.log2(52)],
  ])('%s', (_name, secret, bits) => {
    expect(estimateEntropyBits(secret)).toBeCloseTo(bits, 6);
  });

  it('rates generated secrets well above 128 bits', () => {
    for (let i = 0; i < 20; i++) expect(estimateEntropyBits(generateSecret())).toBeGreaterThan(200);
  });

  it.each([
    ['32 hex chars (128-bit token)', true, 'a3f09c1d7be24f58916c0e2d4b7a8f31'],
    ['40 hex chars', true, '9c1d7be24f58916c0e2d4b7a8f31a3f09c2e4d6f'],
    ['22 random base62 chars', true, 'Xq9v2LmP7wR4tZ8nK3bY6c'],
    ['8-char password', false, 'hunter22'],
    ['long repeated phrase', false, 'Password1!Password1!Password1!Password1!'],
    ['a 100-char run', false, 'x'.repeat(100)],
    ['24 hex chars (96 bits)', false, 'a3f09c1d7be24f58916c0e2d'],
  ])('%s: high entropy = %s', (_name, high, secret) => {
    expect(estimateEntropyBits(secret) >= HIGH).toBe(high);
  });

  it('stays fast on a 512-character worst case', () => {
    const start = performance.now();
    estimateEntropyBits('ab'.repeat(128) + 'abc'.repeat(85));
    estimateEntropyBits('x'.repeat(512));
    expect(performance.now() - start).toBeLessThan(500);
  });
});
