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
}

/** Something named on the command line does not exist, or a check failed: exit 1. */
export class CommandFailed extends Error {
  readonly code = 'KEYGATE_FAILED';
}
