import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';

/**
 * Aborts travel both ways: a client that goes away aborts the upstream request, and an
 * upstream that dies mid-body ends the client's response with an error, never with a
 * clean but short body.
 */
const AUTH = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };

/** What the upstream saw of one request's life. */
interface Life {
  readonly url: string;
  bytes: number;
  closedEarly: boolean;
  aborted: boolean;
}

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

const behaviours: Record<string, Behaviour> = {
  ok: (_req, res) => res.end('fine'),
  /** Never answers. */
  hang: () => undefined,
  /** Headers and a first chunk, then nothing. */
  trickle: (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk\n');
  },
  /** Promises 1000 bytes, sends 100, then resets the connection. */
  resetLength: (_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('x'.repeat(100), () => res.socket?.resetAndDestroy());
  },
  /** Chunked: two chunks, then a reset instead of the last chunk. */
  resetChunked: (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('x'.repeat(100));
    res.write('y'.repeat(100), () => res.socket?.resetAndDestroy());
  },
  /** Chunked: a chunk, then the socket ends (FIN) without the terminating chunk. */
  endChunked: (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('x'.repeat(100), () => res.socket?.end());
  },
};

describe('aborts and resets', () => {
  const lives: Life[] = [];
  let server: Server;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const life: Life = { url: req.url ?? '', bytes: 0, closedEarly: false, aborted: false };
      lives.push(life);
      req.on('data', (c: Buffer) => (life.bytes += c.length));
      req.on('aborted', () => (life.aborted = true));
      res.on('close', () => (life.closedEarly = !res.writableFinished));
      const name = req.url?.split('/').pop() ?? '';
      (behaviours[name] ?? behaviours.hang)(req, res);
    });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cfg = tempConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    cfg?.cleanup();
  });

  const lifeOf = (url: string): Promise<Life> => waitFor(() => lives.find((l) => l.url === url));

  it('client gone while waiting for response headers → the upstream request is closed', async () => {
    const ac = new AbortController();
    const pending = fetch(`${kg.url()}/compute/v2/p1/servers/hang`, { headers: AUTH, signal: ac.signal });
    const life = await lifeOf('/v2/p1/servers/hang');
    ac.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(
      () => life.closedEarly,
      3_000,
      () => 'upstream never saw the close',
    );
    const line = await waitFor(() => kg.logs().find((l) => l.path === '/compute/v2/p1/servers/hang'));
    expect(line.status).toBe(499);
  });

  it('client gone mid-download → the upstream response is closed', async () => {
    const ac = new AbortController();
    const res = await fetch(`${kg.url()}/compute/v2/p1/servers/trickle`, { headers: AUTH, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first chunk\n');
    const life = await lifeOf('/v2/p1/servers/trickle');
    ac.abort();
    await waitFor(
      () => life.closedEarly,
      3_000,
      () => 'upstream never saw the close',
    );
  });

  it('client gone mid-upload → the upstream request is aborted', async () => {
    const req = request(`${kg.url()}/compute/v2/p1/servers/upload-hang`, {
      method: 'POST',
      headers: { ...AUTH, 'content-length': '1000000' },
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(1000, 1));
    const life = await lifeOf('/v2/p1/servers/upload-hang');
    await waitFor(() => life.bytes >= 1000);
    req.destroy();
    await waitFor(
      () => life.aborted || life.closedEarly,
      3_000,
      () => 'upstream never saw the abort',
    );
    expect(life.bytes).toBeLessThan(1_000_000);
  });

  const resets = [
    { desc: 'reset after 100 of 1000 Content-Length bytes', name: 'resetLength' },
    { desc: 'reset mid chunked body', name: 'resetChunked' },
    { desc: 'FIN without the last chunk', name: 'endChunked' },
  ];

  it.each(resets)('upstream $desc → the client sees an error, not a clean short body', async ({ name }) => {
    const outcome = await new Promise<{ status: number; error?: string; complete: boolean; bytes: number }>((resolve) => {
      const req = request(`${kg.url()}/compute/v2/p1/servers/${name}`, { headers: AUTH }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, complete: res.complete, bytes }));
        res.on('error', (e) =>
          resolve({ status: res.statusCode ?? 0, error: (e as NodeJS.ErrnoException).code ?? e.message, complete: res.complete, bytes }),
        );
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, error: 'aborted', complete: res.complete, bytes }));
      });
      req.on('error', (e) => resolve({ status: 0, error: (e as NodeJS.ErrnoException).code ?? e.message, complete: false, bytes: 0 }));
      req.end();
    });
    expect(outcome.status).toBe(200); // headers were already on their way
    expect(outcome.complete).toBe(false);
    expect(outcome.error).toBeDefined();
  });

  it('keygate keeps serving after all of the above', async () => {
    const res = await fetch(`${kg.url()}/compute/v2/p1/servers/ok`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fine');
  });
});
