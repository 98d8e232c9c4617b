import { pino, type DestinationStream, type LogFn, type Logger } from 'pino';
import { stdoutSink } from './logSink.js';
import { redactPaths, secretCensor } from './redaction.js';
import { CENSOR, scrubKeyStrings, scrubSecrets } from './scrub.js';
import { serializeError, serializeRequest, serializeResponse } from './serializers.js';

export type { Logger } from 'pino';
export { pathWithoutQuery, serializeError, serializeRequest } from './serializers.js';

export interface CreateLoggerOptions {
  /** A pino level name: fatal, error, warn, info, debug, trace or silent. */
  readonly level: string;
  /** Where JSON lines go; default stdout (logSink.ts). Tests pass a memory stream. */
  readonly destination?: DestinationStream;
  /** Further headers that carry secrets, e.g. services' configured service-token headers. */
  readonly redactHeaders?: readonly string[];
}

/** Top-level fields pino passes through these; `secretCensor` leaves them to them. */
const SERIALIZERS = {
  err: (e: unknown) => serializeError(e),
  error: (e: unknown) => serializeError(e),
  req: serializeRequest,
  res: serializeResponse,
};

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
    options.destination ?? stdoutSink(),
  );
}

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
