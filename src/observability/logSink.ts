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
 *
 * The batch is gathered here, not in sonic-boom (pino's destination, which does the
 * writing): its buffered `write` measures the UTF-8 length of the whole pending buffer
 * for every line, which flattens the growing string each time: ~13 µs per access line
 * at a 16 KiB batch, 10% of a 401's CPU. Here each line's length is measured once and
 * sonic-boom gets one string per batch.
 */
export function stdoutSink(batchBytes = BATCH_BYTES): LogSink {
  return fdSink(1, batchBytes);
}

/** The same on any open file descriptor (the bench times it on /dev/null). */
export function fdSink(fd: number, batchBytes = BATCH_BYTES): LogSink {
  // minLength 0: every `out.write` is one synchronous write(2) (retried while a full pipe says EAGAIN).
  const out = pino.destination({ dest: fd, sync: true, minLength: 0, maxWrite: 4 * BATCH_BYTES });
  let pending = '';
  let pendingBytes = 0;
  const writeOut = (text: string): void => {
    pending = '';
    pendingBytes = 0;
    try {
      out.write(text);
    } catch {
      // stdout closed: nothing left to write to
    }
  };
  const drain = (): void => {
    if (pending.length > 0) writeOut(pending);
  };
  const flushSync = (): void => {
    drain();
    try {
      out.flushSync();
    } catch {
      // stdout closed: nothing left to write to
    }
  };
  setInterval(drain, FLUSH_MS).unref();
  process.once('exit', flushSync);
  return {
    write(line: string): void {
      writeOut(pending + line);
    },
    writeBatched(line: string): void {
      pending += line;
      pendingBytes += Buffer.byteLength(line);
      if (pendingBytes >= batchBytes) drain();
    },
    flushSync,
  };
}

/** Every line written through at once (tests capture a stream; embedders pass their own). */
export function streamSink(stream: NodeJS.WritableStream): LogSink {
  const write = (line: string): void => void stream.write(line);
  return { write, writeBatched: write, flushSync: () => undefined };
}
