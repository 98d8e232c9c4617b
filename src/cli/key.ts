import { CommandFailed, UsageError, type CliIO } from './io.js';
import { keyCreateHelp, runKeyCreate } from './keyCreate.js';
import { keyImportHelp, runKeyImport } from './keyImport.js';
import { keyListHelp, keyShowHelp, runKeyList, runKeyShow } from './keyList.js';
import { keyDeleteHelp, keyEnableHelp, keyRevokeHelp, runKeyDelete, runKeyEnable, runKeyRevoke } from './keyRevoke.js';
import { keyPromoteHelp, runKeyPromote } from './keyPromote.js';
import { keyRotateHelp, runKeyRotate } from './keyRotate.js';
import { keyPruneHelp, runKeyPrune } from './keyPrune.js';

type Subcommand = (argv: string[], io: CliIO) => number | Promise<number>;

const SUBCOMMANDS: Record<string, { run: Subcommand; help: string }> = {
  create: { run: runKeyCreate, help: keyCreateHelp },
  list: { run: runKeyList, help: keyListHelp },
  show: { run: runKeyShow, help: keyShowHelp },
  revoke: { run: runKeyRevoke, help: keyRevokeHelp },
  enable: { run: runKeyEnable, help: keyEnableHelp },
  delete: { run: runKeyDelete, help: keyDeleteHelp },
  rotate: { run: runKeyRotate, help: keyRotateHelp },
  prune: { run: runKeyPrune, help: keyPruneHelp },
  promote: { run: runKeyPromote, help: keyPromoteHelp },
  import: { run: runKeyImport, help: keyImportHelp },
};

export const keyHelp = [
  'keygate key <create|list|show|revoke|enable|delete|rotate|promote|prune|import> ...   manage API keys (edits the keys file in place)',
  ...Object.values(SUBCOMMANDS).map((s) => `    ${s.help}`),
  '    RULE = "SERVICE METHOD PATH [region=R1,R2]", e.g. "compute read /v2/**"; METHOD: GET,POST | read | write | *',
].join('\n');

export async function runKey(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name === undefined ? undefined : SUBCOMMANDS[name];
  if (!sub) throw new UsageError(name === undefined ? 'which key command?' : `unknown key command "${name}"`);
  try {
    return await sub.run(rest, io);
  } catch (e) {
    // Name the subcommand in the message main prints ("keygate key: create: ...").
    if (e instanceof UsageError) throw new UsageError(`${name}: ${e.message}`);
    if (e instanceof CommandFailed) throw new CommandFailed(`${name}: ${e.message}`);
    throw e;
  }
}
