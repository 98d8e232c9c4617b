import { readFailure, readRegularFile } from '../config/regularFile.js';
import { basename } from 'node:path';
import { sharedLegacySalt } from '../auth/hash.js';
import { appendKeys, type KeyEntry } from '../keys/editor.js';
import {
  hashLegacySecret,
  importedEntry,
  parseSecretList,
  withoutKnown,
  type LegacySecret,
  type SkippedSecret,
} from '../keys/legacyImport.js';
import { takenIds, unusedId } from '../keys/mint.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requireString } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { isoSeconds } from './keyArgs.js';
import { chooseKeysFile, requireUser, writeKeys } from './keyStore.js';
import { displayPath, printWarnings, RELOAD_NOTE } from './keyView.js';
import { loadOrFail } from './loadOrFail.js';

export const keyImportHelp =
  'keygate key import -c FILE --user U --from LIST [--keys-file PATH] [--json]   legacy plaintext secrets (one a line) -> hashed keys, disabled for review';

export async function runKeyImport(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    user: { type: 'string' },
    from: { type: 'string' },
    'keys-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const configFile = configPath(args, io);
  const user = requireString(args, 'user');
  const from = requireString(args, 'from');
  const snapshot = loadOrFail(configFile, io);
  requireUser(snapshot, user);
  const file = chooseKeysFile(snapshot, optionalString(args, 'keys-file'));
  const { fresh, skipped } = await withoutKnown(readSecrets(from), snapshot.keys.list());
  const salt = sharedLegacySalt(snapshot.keys.legacySlow.map((k) => k.hash));
  const prepared = await Promise.all(fresh.map((s) => hashLegacySecret(s, salt)));
  const now = io.now();
  const entries: KeyEntry[] = [];
  if (prepared.length) {
    await writeKeys(configFile, file, io, (current) => {
      entries.length = 0;
      const taken = takenIds(current, snapshot.keys.byId);
      for (const p of prepared) entries.push(importedEntry(unusedId(taken), user, `${basename(from)}:${p.line}`, p.hash, isoSeconds(now)));
      return appendKeys(current, entries);
    });
  }
  const imported = prepared.map((p, i) => ({
    line: p.line,
    id: entries[i].id,
    hash: p.lowEntropy ? 'scrypt' : 'sha256',
    lowEntropy: p.lowEntropy,
  }));
  printWarnings(
    io,
    imported
      .filter((k) => k.lowEntropy)
      .map(
        (k) =>
          `line ${k.line} (key ${k.id}): low-entropy secret, stored with scrypt; rotate it ("keygate key rotate ${k.id}") once its client can switch`,
      ),
  );
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ file, user, imported, skipped }, null, 2));
    return EXIT.ok;
  }
  io.out(summary(from, user, file, imported, skipped));
  return EXIT.ok;
}

/** The list file, one secret a line; any bad line stops the import (named by line, never echoed). */
export function readSecrets(from: string): LegacySecret[] {
  let text: string;
  try {
    text = readRegularFile(from).toString('utf8');
  } catch (e) {
    throw new CommandFailed(`cannot read ${from}: ${readFailure(e)}`);
  }
  const { secrets, problems } = parseSecretList(text, from);
  if (problems.length) throw new UsageError(`nothing was imported:\n${problems.join('\n')}`);
  if (!secrets.length) throw new CommandFailed(`${from} holds no secrets (one a line; # starts a comment)`);
  return secrets;
}

function summary(
  from: string,
  user: string,
  file: string,
  imported: { line: number; id: string; lowEntropy: boolean }[],
  skipped: readonly SkippedSecret[],
): string {
  const lines = [
    `Imported ${imported.length} legacy secret(s) from ${from} for user ${user} into ${displayPath(file)} (hashes only; the list itself is not changed):`,
  ];
  for (const k of imported)
    lines.push(`  line ${k.line}: key ${k.id}  ${k.lowEntropy ? 'LOW ENTROPY, scrypt: rotate it' : 'high entropy, sha256'}`);
  for (const s of skipped) lines.push(`  line ${s.line}: skipped, ${s.reason}`);
  if (imported.length) {
    lines.push(
      `The new keys are disabled and restricted with no allow rules: review each one, add its allow rules in ${displayPath(file)},`,
      `then enable it (keygate key enable ID). Clients keep presenting their secrets unchanged. ${RELOAD_NOTE}`,
    );
  }
  return lines.join('\n');
}
