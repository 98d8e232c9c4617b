import { hashFast, hashSlow, verifyHash } from '../auth/hash.js';
import { estimateEntropyBits, KEY_PREFIX, MAX_LEGACY_LENGTH } from '../auth/keyFormat.js';
import type { KeyEntry } from './editor.js';
import type { KeyRecord } from './record.js';

/*
 * The rules of importing legacy plaintext secrets as keys: what a secret may look
 * like, which hash it gets, which ones are already in, and the entry written for it.
 */

/** At or above this a fast hash is safe: nobody can search 2^128 candidates. */
const HIGH_ENTROPY_BITS = 128;
const LEGACY_CHARS = /^[\x21-\x7e]+$/;

export interface LegacySecret {
  readonly line: number;
  readonly secret: string;
}

export interface HashedSecret {
  readonly line: number;
  readonly hash: string;
  readonly lowEntropy: boolean;
}

export interface SkippedSecret {
  readonly line: number;
  readonly reason: string;
}

/** One secret a line; blank lines and lines starting with `#` are skipped. Problems name the line, never the secret. */
export function parseSecretList(text: string, from: string): { secrets: LegacySecret[]; problems: string[] } {
  const secrets: LegacySecret[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const secret = raw.trim();
    if (secret === '' || secret.startsWith('#')) return;
    const problem = legacyProblem(secret);
    if (problem) problems.push(`${from}:${i + 1}: ${problem}`);
    else secrets.push({ line: i + 1, secret });
  });
  return { secrets, problems };
}

/** A legacy secret must be something a client can present and the proxy will treat as legacy. */
function legacyProblem(secret: string): string | undefined {
  if (!LEGACY_CHARS.test(secret)) return 'a legacy secret must be printable ASCII without spaces';
  if (secret.length > MAX_LEGACY_LENGTH) return `a legacy secret must be at most ${MAX_LEGACY_LENGTH} characters`;
  if (secret.startsWith(KEY_PREFIX)) return `starts with "${KEY_PREFIX}", so it would be read as a keygate key, not a legacy secret`;
  return undefined;
}

/** Re-running an import must not create twins: a secret repeated in the list or already a key is skipped. */
export async function withoutKnown(
  secrets: readonly LegacySecret[],
  keys: readonly KeyRecord[],
): Promise<{ fresh: LegacySecret[]; skipped: SkippedSecret[] }> {
  const legacy = keys.filter((k) => k.legacy);
  const firstLine = new Map<string, number>();
  const fresh: LegacySecret[] = [];
  const skipped: SkippedSecret[] = [];
  for (const s of secrets) {
    const earlier = firstLine.get(s.secret);
    const known = earlier === undefined ? await importedAs(legacy, s.secret) : undefined;
    if (earlier !== undefined) skipped.push({ line: s.line, reason: `same secret as line ${earlier}` });
    else if (known) skipped.push({ line: s.line, reason: `already imported as key ${known.id}` });
    else fresh.push(s);
    if (earlier === undefined) firstLine.set(s.secret, s.line);
  }
  return { fresh, skipped };
}

async function importedAs(legacy: readonly KeyRecord[], secret: string): Promise<KeyRecord | undefined> {
  const fast = hashFast(secret);
  for (const key of legacy) {
    if (key.hash.algorithm === 'sha256' ? key.hash.text === fast : await verifyHash(key.hash, secret)) return key;
  }
  return undefined;
}

/**
 * The whole presented string is hashed: clients keep sending it unchanged, with no key id
 * in it. `salt` is shared by every low-entropy secret of the import (`sharedLegacySalt`).
 */
export async function hashLegacySecret(s: LegacySecret, salt: Buffer): Promise<HashedSecret> {
  const lowEntropy = estimateEntropyBits(s.secret) < HIGH_ENTROPY_BITS;
  return { line: s.line, hash: lowEntropy ? await hashSlow(s.secret, 'scrypt', {}, salt) : hashFast(s.secret), lowEntropy };
}

/** Imported keys start disabled and restricted with no rules: someone reviews each before it works. */
export function importedEntry(id: string, user: string, name: string, hash: string, created: string): KeyEntry {
  return {
    id,
    user,
    name,
    hash,
    scope: 'restricted',
    disabled: true,
    comment: `imported ${created.slice(0, 10)}; awaiting review`,
    created,
    legacy: true,
  };
}
