import { updateKey } from '../keys/editor.js';
import { keyString, mintSecret } from '../keys/mint.js';
import { CONFIG_OPTION, configPath, flag, parseCommand, requirePositional } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { findKey, writeKeys } from './keyStore.js';
import { displayPath, printWarnings, showOnce, stateWarnings } from './keyView.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';
import { isoSeconds } from './keyArgs.js';

export const keyRotateHelp = 'keygate key rotate -c FILE ID [--json]   new secret, same id and scope; the old secret stops working';

/** A rotated legacy key becomes a normal keygate key: the new secret is generated, so it is high-entropy. */
export async function runKeyRotate(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } }, 1);
  const configFile = configPath(args, io);
  const key = findKey(loadOrFail(configFile, io), keyIdArg(requirePositional(args, 'key ID'), io, 'key ID'));
  const minted = mintSecret();
  // `rotated` restarts the key's age for policy `keys.maxAge` (rotation due).
  const fields = { hash: minted.hash, rotated: isoSeconds(io.now()), ...(key.legacy ? { legacy: false } : {}) };
  const after = await writeKeys(configFile, key.file, io, (current) => updateKey(current, key.id, fields));
  const warnings = after ? stateWarnings(after, findKey(after, key.id), io.now()) : [];
  printWarnings(io, warnings);
  const shown = keyString(key.id, minted);
  io.reveal?.(shown);
  if (flag(args, 'json')) {
    io.out(
      JSON.stringify(
        { id: key.id, key: shown, user: key.user, name: key.name, scope: key.scope, file: key.file, wasLegacy: key.legacy, warnings },
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
      `The old ${key.legacy ? 'legacy secret' : 'key'} stops working when a running proxy reloads the keys file.`,
    ].join('\n'),
  );
  return EXIT.ok;
}
