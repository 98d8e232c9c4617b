import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { hashFast, hashSlow, verifyHash } from '../auth/hash.js';
import { estimateEntropyBits, generateKeyId, KEY_PREFIX, MAX_LEGACY_LENGTH } from '../auth/keyFormat.js';
import { appendKeys, keyIds, type KeyEntry } from '../config/keysEditor.js';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requireString } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { isoSeconds } from './keyArgs.js';
import { chooseKeysFile, requireUser, writeKeys } from './keyStore.js';
import { displayPath, printWarnings, RELOAD_NOTE } from './keyView.js';
import { loadOrFail } from './loadOrFail.js';

export const keyImportHelp =
  'keygate key import -c FILE --user U --from LIST [--keys-file PATH] [--json]   legacy plaintext secrets (one a line) -> hashed keys, disabled for review';

/** At or above this a fast hash is safe: nobody can search 2^128 candidates. */
const HIGH_ENTROPY_BITS = 128;
const LEGACY_CHARS = /^[\x21-\x7e]+$/;

interface Secret {
  line: number;
  secret: string;
}

interface Prepared {
  line: number;
  hash: string;
  lowEntropy: boolean;
}

interface Skipped {
  line: number;
  reason: string;
}

export async function runKeyImport(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, user: { type: 'string' }, from: { type: 'string' }, 'keys-file': { type: 'string' }, json: { type: 'boolean' } });
  const configFile = configPath(args, io);
  const user = requireString(args, 'user');
  const from = requireString(args, 'from');
  const snapshot = loadOrFail(configFile, io);
  requireUser(snapshot, user);
  const file = chooseKeysFile(snapshot, optionalString(args, 'keys-file'));
  const { fresh, skipped } = await withoutKnown(readSecrets(from), snapshot);
  const prepared = await Promise.all(fresh.map(hashed));
  const now = io.now();
  const entries: KeyEntry[] = [];
  if (prepared.length) {
    await writeKeys(configFile, file, io, (current) => {
      entries.length = 0;
      const taken = new Set([...keyIds(current), ...snapshot.keys.byId.keys()]);
      for (const p of prepared) entries.push(entry(unusedId(taken), user, `${basename(from)}:${p.line}`, p.hash, now));
      return appendKeys(current, entries);
    });
  }
  const imported = prepared.map((p, i) => ({ line: p.line, id: entries[i].id, hash: p.lowEntropy ? 'scrypt' : 'sha256', lowEntropy: p.lowEntropy }));
  printWarnings(io, imported.filter((k) => k.lowEntropy).map((k) => `line ${k.line} (key ${k.id}): low-entropy secret, stored with scrypt; rotate it ("keygate key rotate ${k.id}") once its client can switch`));
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ file, user, imported, skipped }, null, 2));
    return EXIT.ok;
  }
  io.out(summary(from, user, file, imported, skipped));
  return EXIT.ok;
}

/** One secret a line; blank lines and lines starting with `#` are skipped. Bad lines are named, never echoed. */
export function readSecrets(from: string): Secret[] {
  let text: string;
  try {
    text = readFileSync(from, 'utf8');
  } catch (e) {
    throw new CommandFailed(`cannot read ${from}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const secrets: Secret[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const secret = raw.trim();
    if (secret === '' || secret.startsWith('#')) return;
    const problem = legacyProblem(secret);
    if (problem) problems.push(`${from}:${i + 1}: ${problem}`);
    else secrets.push({ line: i + 1, secret });
  });
  if (problems.length) throw new UsageError(`nothing was imported:\n${problems.join('\n')}`);
  if (!secrets.length) throw new CommandFailed(`${from} holds no secrets (one a line; # starts a comment)`);
  return secrets;
}

/** A legacy secret must be something a client can present and the proxy will treat as legacy. */
function legacyProblem(secret: string): string | undefined {
  if (!LEGACY_CHARS.test(secret)) return 'a legacy secret must be printable ASCII without spaces';
  if (secret.length > MAX_LEGACY_LENGTH) return `a legacy secret must be at most ${MAX_LEGACY_LENGTH} characters`;
  if (secret.startsWith(KEY_PREFIX)) return `starts with "${KEY_PREFIX}", so it would be read as a keygate key, not a legacy secret`;
  return undefined;
}

/** Re-running an import must not create twins: a secret already in the file or in the config is skipped. */
async function withoutKnown(secrets: Secret[], snapshot: Snapshot): Promise<{ fresh: Secret[]; skipped: Skipped[] }> {
  const legacy = snapshot.keyList.filter((k) => k.legacy);
  const firstLine = new Map<string, number>();
  const fresh: Secret[] = [];
  const skipped: Skipped[] = [];
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

/** The whole presented string is hashed: clients keep sending it unchanged, with no key id in it. */
async function hashed(s: Secret): Promise<Prepared> {
  const lowEntropy = estimateEntropyBits(s.secret) < HIGH_ENTROPY_BITS;
  return { line: s.line, hash: lowEntropy ? await hashSlow(s.secret, 'scrypt') : hashFast(s.secret), lowEntropy };
}

function entry(id: string, user: string, name: string, hash: string, now: number): KeyEntry {
  return {
    id, user, name, hash, scope: 'restricted', disabled: true,
    comment: `imported ${isoSeconds(now).slice(0, 10)}; awaiting review`, created: isoSeconds(now), legacy: true,
  };
}

function unusedId(taken: Set<string>): string {
  for (;;) {
    const id = generateKeyId();
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

function summary(from: string, user: string, file: string, imported: { line: number; id: string; lowEntropy: boolean }[], skipped: Skipped[]): string {
  const lines = [`Imported ${imported.length} legacy secret(s) from ${from} for user ${user} into ${displayPath(file)} (hashes only; the list itself is not changed):`];
  for (const k of imported) lines.push(`  line ${k.line}: key ${k.id}  ${k.lowEntropy ? 'LOW ENTROPY, scrypt: rotate it' : 'high entropy, sha256'}`);
  for (const s of skipped) lines.push(`  line ${s.line}: skipped, ${s.reason}`);
  if (imported.length) {
    lines.push(
      'The new keys are disabled and restricted with no allow rules: review each one, add its allow rules and set',
      `disabled: false in ${displayPath(file)}. Clients keep presenting their secrets unchanged. ${RELOAD_NOTE}`,
    );
  }
  return lines.join('\n');
}
