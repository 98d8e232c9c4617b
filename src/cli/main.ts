import { runCheck, checkHelp } from './check.js';
import { runExplain, explainHelp } from './explain.js';
import { CommandFailed, EXIT, processIO, UsageError, type CliIO } from './io.js';
import { permissionsHelp, runPermissions } from './permissions.js';
import { jwksHelp, runJwks } from './jwks.js';
import { keyHelp, runKey } from './key.js';
import { replayHelp, runReplay } from './replay.js';
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
};

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
    io.err(`keygate: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`keygate ${name}: ${e.message}\n${command.help}`);
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
