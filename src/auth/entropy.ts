/**
 * A deliberately conservative guess at how many bits an attacker must search to
 * find `secret`, used to decide whether an imported legacy secret may be stored
 * behind a fast hash (>= 128 bits) or needs a slow KDF.
 *
 *   bits = effectiveLength × log2(charsetSize)
 *
 * - charsetSize: the sum of the character classes the secret uses (digits 10,
 *   lower 26, upper 26, anything else 32). A secret made only of hex digits
 *   counts as 16, because that is what hex tokens are drawn from.
 * - effectiveLength: the length after repetition is squeezed out, LZ77-style:
 *   a run of 4+ characters that repeats earlier text counts as one symbol, so
 *   "aaaa…", "abab…" and "Password1!Password1!" score close to their period.
 *
 * It never looks at dictionaries, so passphrases of common words are
 * overestimated; it is a floor for random tokens, not a password meter.
 */
export function estimateEntropyBits(secret: string): number {
  if (secret.length === 0) return 0;
  return effectiveLength(secret) * Math.log2(charsetSize(secret));
}

const CLASSES: ReadonlyArray<readonly [RegExp, number]> = [
  [/[0-9]/, 10],
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[^0-9a-zA-Z]/, 32],
];

function charsetSize(secret: string): number {
  let size = 0;
  for (const [pattern, classSize] of CLASSES) if (pattern.test(secret)) size += classSize;
  const hexOnly = /^[0-9a-f]+$/.test(secret) || /^[0-9A-F]+$/.test(secret);
  return hexOnly ? Math.min(size, 16) : size;
}

// Shorter repeats happen by chance in random tokens and should not be penalised.
const MIN_REPEAT = 4;

function effectiveLength(secret: string): number {
  let symbols = 0;
  for (let i = 0; i < secret.length; symbols++) {
    const repeat = longestEarlierMatch(secret, i);
    i += repeat >= MIN_REPEAT ? repeat : 1;
  }
  return symbols;
}

/** Length of the longest prefix of secret[i..] that also starts at some j < i. */
function longestEarlierMatch(secret: string, i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let n = 0;
    while (i + n < secret.length && secret[j + n] === secret[i + n]) n++;
    best = Math.max(best, n);
  }
  return best;
}
