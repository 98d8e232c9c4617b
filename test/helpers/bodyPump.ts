import { connect, type Socket } from 'node:net';
import { readResponse, type RawResponse } from './raw.js';

export interface PumpResult {
  /** Body bytes the socket took (includes what kernel buffers held; an upper bound of what the server read). */
  readonly written: number;
  /** The server ended the connection (FIN or reset) before `maxBytes` or `maxMs` ran out. */
  readonly closedByServer: boolean;
  readonly ms: number;
  readonly response: RawResponse | undefined;
}

export interface PumpOptions {
  /** Body bytes sent right after the head; then the pump runs unless `stallAfterPrefix`. */
  readonly prefix?: number;
  /** Send only the prefix, then wait without sending (a half-sent body). */
  readonly stallAfterPrefix?: boolean;
  readonly maxBytes: number;
  readonly maxMs: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * Writes `head` and then body bytes as fast as the server takes them, bounded in bytes
 * and time, while reading the server's answer; reports how much was taken and whether
 * the server closed the connection.
 */
export async function pumpBody(port: number, head: string, opts: PumpOptions): Promise<PumpResult> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = Date.now();
  let closed = false;
  const closedP = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  socket.on('error', () => undefined);
  const response = readResponse(socket, opts.maxMs + 2_000).catch(() => undefined);
  socket.write(head);
  let written = 0;
  if (opts.prefix) {
    socket.write(CHUNK.subarray(0, Math.min(opts.prefix, CHUNK.length)));
    written += Math.min(opts.prefix, CHUNK.length);
  }
  const deadline = started + opts.maxMs;
  if (opts.stallAfterPrefix) {
    await Promise.race([closedP, new Promise((r) => setTimeout(r, opts.maxMs).unref())]);
  } else {
    while (!closed && socket.writable && written < opts.maxBytes && Date.now() < deadline) {
      const more = socket.write(CHUNK);
      written += CHUNK.length;
      if (!more) await drained(socket, deadline - Date.now());
    }
  }
  const closedByServer = closed && Date.now() <= deadline + 50;
  const ms = Date.now() - started;
  const res = await Promise.race([response, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000).unref())]);
  socket.destroy();
  return { written, closedByServer, ms, response: res };
}

/** Resolves on 'drain', 'close' or after `ms`, whichever comes first. */
function drained(socket: Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('drain', done).off('close', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    socket.once('drain', done).once('close', done);
  });
}
