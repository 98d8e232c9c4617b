import { setShadow, updateKey } from '../keys/editor.js';
import { keyString, mintSecret } from '../keys/mint.js';
import { parseDuration } from '../reader/values.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requirePositional } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { checkShadowRules, readShadowArgs } from './keyArgs.js';
import { findKey, writeKeys } from './keyStore.js';
import { displayPath, printWarnings, showOnce, stateWarnings } from './keyView.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';
import { isoSeconds } from './keyArgs.js';

export const keyRotateHelp =
  'keygate key rotate -c FILE ID [--grace 24h] [--shadow-allow RULE]... [--shadow-deny RULE]... [--json]   new secret, same id and scope; the old secret stops working (after --grace); --shadow-*: a candidate scope to try (key promote)';

/** A rotated legacy key becomes a normal keygate key: the new secret is generated, so it is high-entropy. */
export async function runKeyRotate(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(
    argv,
    {
      ...CONFIG_OPTION,
      grace: { type: 'string' },
      json: { type: 'boolean' },
      'shadow-allow': { type: 'string', multiple: true },
      'shadow-deny': { type: 'string', multiple: true },
    },
    1,
  );
  const configFile = configPath(args, io);
  const now = io.now();
  const grace = graceArg(optionalString(args, 'grace'));
  const shadow = readShadowArgs(args);
  const snapshot = loadOrFail(configFile, io);
  checkShadowRules(snapshot, shadow);
  const key = findKey(snapshot, keyIdArg(requirePositional(args, 'key ID'), io, 'key ID'));
  if (grace !== undefined && (key.legacy || key.hash.algorithm !== 'sha256')) {
    throw new CommandFailed(`key ${key.id} holds a legacy secret, which cannot stay valid beside a new one; rotate it without --grace`);
  }
  const minted = mintSecret();
  const graceUntil = grace === undefined ? undefined : isoSeconds(Math.ceil((now + grace) / 1000) * 1000);
  const fields = {
    hash: minted.hash,
    // `rotated` restarts the key's age for policy `keys.maxAge` (rotation due).
    rotated: isoSeconds(now),
    // Without --grace, an old secret still in an earlier grace period goes too.
    previousHash: graceUntil === undefined ? null : key.hash.text,
    previousHashExpires: graceUntil ?? null,
    ...(key.legacy ? { legacy: false } : {}),
  };
  const after = await writeKeys(configFile, key.file, io, (current) => {
    const rotated = updateKey(current, key.id, fields);
    return shadow ? setShadow(rotated, key.id, shadow) : rotated;
  });
  const warnings = after ? stateWarnings(after, findKey(after, key.id), io.now()) : [];
  printWarnings(io, warnings);
  const shown = keyString(key.id, minted);
  io.reveal?.(shown);
  if (flag(args, 'json')) {
    io.out(
      JSON.stringify(
        {
          id: key.id,
          key: shown,
          user: key.user,
          name: key.name,
          scope: key.scope,
          file: key.file,
          wasLegacy: key.legacy,
          oldKeyValidUntil: graceUntil ?? null,
          warnings,
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  io.out(
    [
      `Rotated key ${key.id} "${key.name}" of user ${key.user} (${key.scope}) in ${displayPath(key.file)}.`,
      ...showOnce(shown, 'new key'),
      graceUntil === undefined
        ? `The old ${key.legacy ? 'legacy secret' : 'key'} stops working when a running proxy reloads the keys file.`
        : `The old key keeps working until ${graceUntil} (--grace); then it stops, and the next key edit or "keygate key prune" removes its hash from the file.`,
    ].join('\n'),
  );
  return EXIT.ok;
}

/** `--grace 24h`: how long the old secret keeps working; at most 30 days (a grace period is for switching clients over). */
function graceArg(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (typeof ms !== 'number' || ms <= 0 || ms > 30 * 86_400_000) {
    throw new UsageError(`--grace "${text}" must be a duration from 1s to 30d (e.g. 24h)`);
  }
  return ms;
}
