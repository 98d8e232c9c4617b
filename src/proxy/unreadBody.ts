import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBody } from './headers.js';

/**
 * How much of an unread body is still read after a refusal, as nginx's lingering close
 * does: enough that a client still sending sees the answer instead of a reset, never
 * enough to make a refusal cost anything.
 */
export const LINGER = { bytes: 64 * 1024, ms: 1_000 } as const;

/**
 * Call before answering a request that is not forwarded. When a body was announced and
 * not read, the answer says `Connection: close`, at most `LINGER` of the body is read and
 * dropped, and the socket is closed: a refused 1 GB upload (or one that stalls halfway)
 * is never read nor held open. Without a pending body the connection stays reusable.
 */
export function refuseUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (!hasBody(req) || req.complete) {
    req.resume();
    return;
  }
  res.setHeader('connection', 'close');
  const socket = req.socket;
  let read = 0;
  const close = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER.ms);
  socket.once('close', () => clearTimeout(timer));
  req.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER.bytes) close();
  });
  // The whole body came within the linger: close as soon as the answer is out.
  req.once('end', () => (res.writableFinished ? close() : res.once('finish', close)));
  // For `Connection: close` Node destroys the socket as soon as the answer is flushed,
  // which resets a client still sending before it reads the answer. Keep the socket for
  // the linger instead (our 'finish' listener runs after Node's, which added the destroy).
  res.once('finish', () => socket.removeListener('finish', socket.destroy));
  req.resume();
}
