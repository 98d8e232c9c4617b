import { pino, type DestinationStream } from 'pino';

/**
 * Where log lines go. Access lines are batched (`writeBatched`); every other line
 * (start, reload, errors) is written at once, after the access lines before it, so the
 * order of lines is the order of events.
 */
export interface LogSink extends DestinationStream {
  /** A line written now, after anything batched. */
  write(line: string): void;
  /** A line that may wait in the buffer (at most BATCH_BYTES or FLUSH_MS). */
  writeBatched(line: string): void;
  flushSync(): void;
}

/** One write(2) per access line cost more than building the line (bench: ~20 µs of ~90 µs). */
export const BATCH_BYTES = 16 * 1024;
/** The longest an access line waits in the buffer. */
export const FLUSH_MS = 250;

/**
 * stdout, buffered: access lines go out when BATCH_BYTES have gathered, every FLUSH_MS,
 * before any other line, and on exit (SIGTERM drains and exits normally, so nothing is
 * lost). A SIGKILL loses what is still buffered: at most BATCH_BYTES (about 40 access
 * lines) written in the last FLUSH_MS, as with nginx's `access_log ... buffer= flush=`.
 * Writes are synchronous once due: a reader that stops reading (a full pipe) holds the
 * writes back instead of losing lines.
 */
export function stdoutSink(batchBytes = BATCH_BYTES): LogSink {
  const out = pino.destination({ dest: 1, sync: true, minLength: batchBytes, maxWrite: 4 * BATCH_BYTES, periodicFlush: FLUSH_MS });
  const flushSync = (): void => {
    try {
      out.flushSync();
    } catch {
      // stdout closed: nothing left to write to
    }
  };
  process.once('exit', flushSync);
  return {
    write(line: string): void {
      out.write(line);
      flushSync();
    },
    writeBatched(line: string): void {
      out.write(line);
    },
    flushSync,
  };
}

/** Every line written through at once (tests capture a stream; embedders pass their own). */
export function streamSink(stream: NodeJS.WritableStream): LogSink {
  const write = (line: string): void => void stream.write(line);
  return { write, writeBatched: write, flushSync: () => undefined };
}
