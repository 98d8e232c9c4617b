import { pino, type DestinationStream, type LogFn, type Logger } from 'pino';
import { redactPaths, secretCensor } from './redaction.js';
import { CENSOR, scrubKeyStrings, scrubSecrets } from './scrub.js';
import { serializeError, serializeRequest, serializeResponse } from './serializers.js';

export type { Logger } from 'pino';
export { pathWithoutQuery, serializeError, serializeRequest } from './serializers.js';

export interface CreateLoggerOptions {
  /** A pino level name: fatal, error, warn, info, debug, trace or silent. */
  readonly level: string;
  /** Where JSON lines go; default stdout. Tests pass a memory stream. */
  readonly destination?: DestinationStream;
  /** Further headers that carry secrets, e.g. services' configured service-token headers. */
  readonly redactHeaders?: readonly string[];
}

/** Top-level fields pino passes through these; `secretCensor` leaves them to them. */
const SERIALIZERS = { err: (e: unknown) => serializeError(e), error: (e: unknown) => serializeError(e), req: serializeRequest, res: serializeResponse };

/**
 * The process logger: JSON lines, redaction compiled once here (see redaction.ts for
 * its three layers), and serializers for `err` and `req` that copy only fields known
 * to be safe (never header values).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: redactPaths(options.redactHeaders), censor: CENSOR },
      serializers: SERIALIZERS,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: secretCensor(options.redactHeaders, Object.keys(SERIALIZERS)) },
      hooks: { logMethod: scrubMessage, streamWrite: scrubKeyStrings },
    },
    options.destination ?? stdoutDestination(),
  );
}

/**
 * stdout, with access lines batched: one write(2) per line cost more than the rest of
 * the log line (bench: ~20 µs of ~90 µs). Access lines wait at most 250 ms or 4 KiB;
 * every other line (start, reload, errors) goes out at once, after them, in order.
 * A SIGKILL can lose up to 4 KiB of access lines, as with Envoy's buffered access log.
 */
export function stdoutDestination(): DestinationStream & { flushSync(): void } {
  const out = pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 250 });
  return {
    write(line: string): void {
      out.write(line);
      if (!line.includes(ACCESS_MARK)) out.flushSync();
    },
    flushSync: () => out.flushSync(),
  };
}

const ACCESS_MARK = '"msg":"request"';

/**
 * Message strings are free text that no redaction path reaches; `logger.error(err)`
 * would also copy the raw `err.message` into `msg`, so give it the scrubbed one.
 */
function scrubMessage(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const [first, ...rest] = args as unknown[];
  const scrubbed = rest.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a));
  const head = typeof first === 'string' ? scrubSecrets(first) : first;
  if (first instanceof Error && typeof rest[0] !== 'string') scrubbed.unshift(scrubSecrets(first.message));
  method.apply(this, [head, ...scrubbed] as Parameters<LogFn>);
}
