import { promoteShadow } from '../keys/editor.js';
import { CONFIG_OPTION, configPath, flag, parseCommand, requirePositional } from './args.js';
import { CommandFailed, EXIT, type CliIO } from './io.js';
import { findKey, warningsAbout, writeKeys } from './keyStore.js';
import { displayPath, permissionLines, printWarnings, RELOAD_NOTE, scopeWarnings } from './keyView.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';

export const keyPromoteHelp =
  "keygate key promote -c FILE ID [--json]   the key's shadow scope becomes its scope (allow/deny replaced, shadow removed), in one atomic write";

/** The last step of "shadow, watch, promote": what the key's `shadow:` was tried as is now enforced. */
export async function runKeyPromote(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } }, 1);
  const configFile = configPath(args, io);
  const key = findKey(loadOrFail(configFile, io), keyIdArg(requirePositional(args, 'key ID'), io, 'key ID'));
  if (!key.shadow)
    throw new CommandFailed(
      `key ${key.id} has no shadow scope to promote (give it one with "key rotate ${key.id} --shadow-allow RULE", or add shadow: to its entry)`,
    );
  const after = await writeKeys(configFile, key.file, io, (current) => promoteShadow(current, key.id));
  const promoted = findKey(after!, key.id);
  const warnings = [...warningsAbout(after!, key.id), ...scopeWarnings(after!, promoted)];
  printWarnings(io, warnings);
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ id: key.id, action: 'promoted', file: key.file, warnings }, null, 2));
    return EXIT.ok;
  }
  io.out(
    [
      `Promoted the shadow scope of key ${key.id} "${key.name}" of user ${key.user} in ${displayPath(key.file)}: it is now the key's scope.`,
      '',
      ...permissionLines(after!, promoted),
      RELOAD_NOTE,
    ].join('\n'),
  );
  return EXIT.ok;
}
