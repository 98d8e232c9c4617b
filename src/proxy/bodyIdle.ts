import type { IncomingMessage } from 'node:http';

/** Checks per idle period: a pause is noticed between `idle` and 1.25 × `idle`. */
const TICKS_PER_IDLE = 4;

/**
 * Calls `onIdle` once if the client pauses inside its request body longer than `idleMs`
 * (`timeouts.idle`). It watches the socket's byte count from a timer, so a chunk costs
 * nothing. A pause keygate caused (body bytes waiting unread because the upstream reads
 * slowly) is not the client's and never counts. Returns the stop function.
 */
export function watchBodyIdle(req: IncomingMessage, idleMs: number, onIdle: () => void): () => void {
  const socket = req.socket;
  let seen = socket.bytesRead;
  let lastProgress = performance.now();
  const timer = setInterval(
    () => {
      if (req.complete || req.destroyed) return stop();
      const now = performance.now();
      if (socket.bytesRead !== seen || req.readableLength > 0) {
        seen = socket.bytesRead;
        lastProgress = now;
      } else if (now - lastProgress >= idleMs) {
        stop();
        onIdle();
      }
    },
    Math.max(1, Math.floor(idleMs / TICKS_PER_IDLE)),
  );
  timer.unref();
  const stop = (): void => clearInterval(timer);
  return stop;
}
