import { createServer } from 'node:net';
import { sleep } from './child.js';

/** A peer that cannot listen on port 0 and tell us the port (nginx, HAProxy, Caddy): take a free one from the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether anything answers HTTP at `url` (any status). */
export async function reachable(url: string): Promise<boolean> {
  try {
    await (await fetch(url, { signal: AbortSignal.timeout(500) })).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Polls `url` until it answers, `alive()` turns false, or `timeoutMs` passes. */
export async function waitReachable(
  url: string,
  alive: () => boolean,
  timeoutMs: number,
  what: string,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited before it was ready: ${stderr().slice(-2000)}`);
    if (await reachable(url)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${timeoutMs} ms: ${stderr().slice(-2000)}`);
    await sleep(50);
  }
}
