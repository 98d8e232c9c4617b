import { runCheck, checkHelp } from './check.js';
import { runExplain, explainHelp } from './explain.js';
import { didYouMean } from '../policy/suggest.js';
import { renderHelp } from './help.js';
import { CommandFailed, EXIT, HelpRequested, processIO, UsageError, type CliIO } from './io.js';
import { permissionsHelp, runPermissions } from './permissions.js';
import { jwksHelp, runJwks } from './jwks.js';
import { replayHelp, runReplay } from './replay.js';
import { KEY_SUBCOMMANDS, keyHelp, runKey } from './key.js';
import { completionHelp, optionsOf, runCompletion, type CompletionEntry } from './completion.js';
import { reportHelp, runReport } from './report.js';
import { runServe, serveHelp } from './serve.js';
import { demoHelp, runDemo } from './demo.js';
import { scrubbingIO } from './scrubbingIO.js';
import { runVersion, versionHelp } from './version.js';

type Command = (argv: string[], io: CliIO) => number | Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  serve: { run: runServe, help: serveHelp },
  check: { run: runCheck, help: checkHelp },
  explain: { run: runExplain, help: explainHelp },
  permissions: { run: runPermissions, help: permissionsHelp },
  key: { run: runKey, help: keyHelp },
  report: { run: runReport, help: reportHelp },
  jwks: { run: runJwks, help: jwksHelp },
  replay: { run: runReplay, help: replayHelp },
  demo: { run: runDemo, help: demoHelp },
  version: { run: runVersion, help: versionHelp },
  completion: { run: (argv, io) => runCompletion(argv, io, completionEntries), help: completionHelp },
};

/** Every command and key subcommand with the options its parser accepts, for `keygate completion`. */
async function completionEntries(): Promise<CompletionEntry[]> {
  const paths = [...Object.keys(COMMANDS).map((c) => [c]), ...KEY_SUBCOMMANDS.map((s) => ['key', s])];
  const entries: CompletionEntry[] = [];
  for (const path of paths) {
    const help = await optionsOf(COMMANDS[path[0]].run, path.slice(1));
    const usageLine = help?.usage ?? COMMANDS[path[0]].help;
    entries.push({
      path,
      options: help?.options ?? {},
      takesKeyId: path[0] !== 'key' || path.length > 1 ? /(?<!--key)\sID\b/.test(usageLine.split('   ')[0]) : false,
    });
  }
  return entries;
}

export function usage(): string {
  return [
    'usage: keygate <command> [options]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.help}`),
    '',
    'exit codes: 0 ok, 1 failed check / denied explain / not found, 2 usage error',
  ].join('\n');
}

/** Runs one command; returns the process exit code. Never throws for bad input. */
export async function main(argv: string[], given: CliIO = processIO): Promise<number> {
  const io = scrubbingIO(given);
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') return runVersion(rest, io);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`keygate: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (wantsJson(rest) && !(e instanceof HelpRequested)) return jsonError(io, name, e);
    if (e instanceof HelpRequested) {
      e.command ??= name;
      e.usage ??= command.help;
      io.out(renderHelp(e));
      return EXIT.ok;
    }
    if (e instanceof UsageError) {
      io.err(`keygate ${name}: ${e.message}\n${e.help ?? command.help}\n(keygate ${e.command ?? name} --help: every option, and examples)`);
      return EXIT.usage;
    }
    if (e instanceof CommandFailed) {
      io.err(`keygate ${name}: ${e.message}`);
      return EXIT.failed;
    }
    // A bug: its message may quote input, so it goes through the scrubber too.
    io.err(`keygate ${name}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.failed;
  }
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * With --json, a failure is one JSON object on stderr too, so a script never parses prose:
 * `{ "error": { "code", "exit", "message" } }` (codes: KEYGATE_USAGE exit 2, KEYGATE_FAILED exit 1,
 * KEYGATE_INTERNAL exit 1).
 */
function jsonError(io: CliIO, name: string, e: unknown): number {
  const [code, exit] =
    e instanceof UsageError ? [e.code, EXIT.usage] : e instanceof CommandFailed ? [e.code, EXIT.failed] : ['KEYGATE_INTERNAL', EXIT.failed];
  const message = e instanceof Error ? (code === 'KEYGATE_INTERNAL' ? (e.stack ?? e.message) : e.message) : String(e);
  io.err(
    JSON.stringify({
      error: { code, exit, command: ((e instanceof UsageError || e instanceof CommandFailed) && e.command) || name, message },
    }),
  );
  return exit;
}
