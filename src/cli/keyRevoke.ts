import { removeKey, updateKey } from '../keys/editor.js';
import type { KeyRecord } from '../config/snapshot.js';
import { CONFIG_OPTION, configPath, flag, parseCommand, requirePositional } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { findKey, warningsAbout, writeKeys } from './keyStore.js';
import { displayPath, printWarnings, RELOAD_NOTE, stateWarnings } from './keyView.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';

export const keyRevokeHelp = 'keygate key revoke -c FILE ID [--json]   disabled: true; the entry stays for audit';
export const keyEnableHelp = 'keygate key enable -c FILE ID [--json]   disabled: false again, after a revoke or an import review';
export const keyDeleteHelp = 'keygate key delete -c FILE ID [--json]   remove the entry';

const OPTIONS = { ...CONFIG_OPTION, json: { type: 'boolean' } } as const;

/** Revoking keeps the entry (who had which key, and when) and needs no change to its user. */
export async function runKeyRevoke(argv: string[], io: CliIO): Promise<number> {
  const { configFile, key, json } = target(argv, io);
  const written = await writeKeys(configFile, key.file, io, (current) =>
    key.disabled ? undefined : updateKey(current, key.id, { disabled: true }),
  );
  report(
    io,
    json,
    { id: key.id, action: written ? 'revoked' : 'already_revoked', file: key.file },
    written
      ? `Revoked key ${key.id} "${key.name}" of user ${key.user}: disabled: true (the entry stays in ${displayPath(key.file)} for audit). ${RELOAD_NOTE}`
      : `Key ${key.id} is already revoked (disabled: true); nothing changed.`,
  );
  return EXIT.ok;
}

/** The way back from revoke, and the last step of an import review; validated and atomic like every edit. */
export async function runKeyEnable(argv: string[], io: CliIO): Promise<number> {
  const { configFile, key, json } = target(argv, io);
  const after = await writeKeys(configFile, key.file, io, (current) =>
    key.disabled ? updateKey(current, key.id, { disabled: false }) : undefined,
  );
  const warnings = after ? [...warningsAbout(after, key.id), ...stateWarnings(after, findKey(after, key.id), io.now())] : [];
  printWarnings(io, warnings);
  report(
    io,
    json,
    { id: key.id, action: after ? 'enabled' : 'already_enabled', file: key.file },
    after
      ? `Enabled key ${key.id} "${key.name}" of user ${key.user}: disabled: false in ${displayPath(key.file)}. ${RELOAD_NOTE}`
      : `Key ${key.id} is not disabled; nothing changed.`,
  );
  return EXIT.ok;
}

export async function runKeyDelete(argv: string[], io: CliIO): Promise<number> {
  const { configFile, key, json } = target(argv, io);
  const after = await writeKeys(configFile, key.file, io, (current) => removeKey(current, key.id));
  printWarnings(io, after ? warningsAbout(after, key.id) : []);
  report(
    io,
    json,
    { id: key.id, action: 'deleted', file: key.file },
    `Deleted key ${key.id} "${key.name}" of user ${key.user} from ${displayPath(key.file)}. ${RELOAD_NOTE}`,
  );
  return EXIT.ok;
}

function target(argv: string[], io: CliIO): { configFile: string; key: KeyRecord; json: boolean } {
  const args = parseCommand(argv, OPTIONS, 1);
  const configFile = configPath(args, io);
  const id = keyIdArg(requirePositional(args, 'key ID'), io, 'key ID');
  return { configFile, key: findKey(loadOrFail(configFile, io), id), json: flag(args, 'json') };
}

function report(io: CliIO, json: boolean, result: Record<string, string>, text: string): void {
  io.out(json ? JSON.stringify(result, null, 2) : text);
}
