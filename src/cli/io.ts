/** Where commands write; injectable so tests can run commands in-process. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
  /** Lets a key string this process minted through the output scrubber (see scrubbingIO). */
  reveal?(key: string): void;
}

export const processIO: CliIO = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  now: () => Date.now(),
};

/** Exit codes of SPEC §9. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad command-line input: exit 2 with the message on stderr. */
export class UsageError extends Error {
  readonly code = 'KEYGATE_USAGE';
  /** For a subcommand: its usage line and name (`key create`), which main prints instead of the command's. */
  help: string | undefined;
  command: string | undefined;
}

/** Something named on the command line does not exist, or a check failed: exit 1. */
export class CommandFailed extends Error {
  readonly code = 'KEYGATE_FAILED';
  /** For a subcommand: its name (`key show`), for --json errors. */
  command: string | undefined;
}

/** The option table a command parses with, as node:util parseArgs takes it. */
export type CommandOptions = Readonly<Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>;

/**
 * `--help` on a command: thrown by its argument parser (before anything is read), so the
 * help shows the options the command really accepts. The dispatcher that knows the
 * command's name and usage line fills them in and prints it (exit 0).
 */
export class HelpRequested extends Error {
  readonly code = 'KEYGATE_HELP';
  command: string | undefined;
  usage: string | undefined;
  constructor(readonly options: CommandOptions) {
    super('help requested');
  }
}
