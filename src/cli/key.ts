import { CommandFailed, HelpRequested, UsageError, type CliIO } from './io.js';
import { didYouMean } from '../policy/suggest.js';
import { keyCreateHelp, runKeyCreate } from './keyCreate.js';
import { keyImportHelp, runKeyImport } from './keyImport.js';
import { keyListHelp, keyShowHelp, runKeyList, runKeyShow } from './keyList.js';
import { keyDeleteHelp, keyEnableHelp, keyRevokeHelp, runKeyDelete, runKeyEnable, runKeyRevoke } from './keyRevoke.js';
import { keyPromoteHelp, runKeyPromote } from './keyPromote.js';
import { keyRotateHelp, runKeyRotate } from './keyRotate.js';
import { keyUpdateHelp, runKeyUpdate } from './keyUpdate.js';
import { keyPruneHelp, runKeyPrune } from './keyPrune.js';

type Subcommand = (argv: string[], io: CliIO) => number | Promise<number>;

const SUBCOMMANDS: Record<string, { run: Subcommand; help: string }> = {
  create: { run: runKeyCreate, help: keyCreateHelp },
  list: { run: runKeyList, help: keyListHelp },
  show: { run: runKeyShow, help: keyShowHelp },
  update: { run: runKeyUpdate, help: keyUpdateHelp },
  revoke: { run: runKeyRevoke, help: keyRevokeHelp },
  enable: { run: runKeyEnable, help: keyEnableHelp },
  delete: { run: runKeyDelete, help: keyDeleteHelp },
  rotate: { run: runKeyRotate, help: keyRotateHelp },
  prune: { run: runKeyPrune, help: keyPruneHelp },
  promote: { run: runKeyPromote, help: keyPromoteHelp },
  import: { run: runKeyImport, help: keyImportHelp },
};

export const KEY_SUBCOMMANDS: readonly string[] = Object.keys(SUBCOMMANDS);

export const keyHelp = [
  'keygate key <create|list|show|update|revoke|enable|delete|rotate|promote|prune|import> ...   manage API keys (edits the keys file in place)',
  ...Object.values(SUBCOMMANDS).map((s) => `    ${s.help}`),
  '    RULE = "SERVICE METHOD PATH [region=R1,R2]", e.g. "compute read /v2/**"; METHOD: GET,POST | read | write | *',
].join('\n');

export async function runKey(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name === undefined ? undefined : SUBCOMMANDS[name];
  if (!sub && (argv.includes('--help') || argv.includes('-h'))) throw new HelpRequested({});
  if (!sub)
    throw new UsageError(
      name === undefined ? 'which key command?' : `unknown key command "${name}"${didYouMean(name, Object.keys(SUBCOMMANDS))}`,
    );
  try {
    return await sub.run(rest, io);
  } catch (e) {
    if (e instanceof HelpRequested) {
      e.command = `key ${name}`;
      e.usage = sub.help;
      throw e;
    }
    // Name the subcommand in the message main prints ("keygate key: create: ..."), and show its usage, not all of key's.
    if (e instanceof UsageError) {
      const wrapped = new UsageError(`${name}: ${e.message}`);
      wrapped.help = sub.help;
      wrapped.command = `key ${name}`;
      throw wrapped;
    }
    if (e instanceof CommandFailed) {
      const wrapped = new CommandFailed(`${name}: ${e.message}`);
      wrapped.command = `key ${name}`;
      throw wrapped;
    }
    throw e;
  }
}
