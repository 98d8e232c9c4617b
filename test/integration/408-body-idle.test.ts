import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { readResponse, requestHead, type RawResponse } from '../helpers/raw.js';

/** `timeouts.idle` bounds pauses inside a request body on the forwarded path. */
const IDLE_MS = 300;
const AUTH = ['Authorization', `Bearer ${DEMO_KEYS.deploy.key}`] as const;
const PATH = '/compute/v2/p1/servers';

/**
 * An upstream that starts reading `/slow-reader` bodies only after 3 × idle (a pause
 * keygate's side causes, which must not count against the client); it counts every body.
 */
async function startSlowReader(): Promise<{ origin: string; bodies: number[]; aborted: () => number; close: () => Promise<void> }> {
  const bodies: number[] = [];
  let aborted = 0;
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('aborted', () => aborted++);
    const read = (): void => {
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        bodies.push(bytes);
        res.end(JSON.stringify({ bodyBytes: bytes }));
      });
      req.resume();
    };
    req.pause();
    if (req.url?.includes('slow-reader')) setTimeout(read, 3 * IDLE_MS);
    else read();
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    aborted: () => aborted,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('408 body_timeout', () => {
  let slow: Awaited<ReturnType<typeof startSlowReader>> | undefined;
  beforeAll(async () => {
    slow = await startSlowReader();
  });
  afterAll(async () => {
    await slow?.close();
  });
  const upstream = (): NonNullable<typeof slow> => slow!;
  const fx = useKeygate({
    edit: (main) =>
      main
        .replace('timeouts: { connect: 2s, response: 30s }', `timeouts: { connect: 2s, response: 30s, idle: ${IDLE_MS}ms }`)
        .replace(/upstream: http:\/\/127\.0\.0\.1:\d+\n/, () => `upstream: ${upstream().origin}\n`),
  });
  const port = (): number => fx.kg.app.port('proxy');

  function open(): Promise<Socket> {
    const socket = connect({ host: '127.0.0.1', port: port() });
    socket.on('error', () => undefined);
    return new Promise((resolve, reject) => socket.once('connect', () => resolve(socket)).once('error', reject));
  }

  it('a body that stalls longer than timeouts.idle gets 408, the connection closes, the upstream never gets a whole request', async () => {
    const before = upstream().bodies.length;
    const socket = await open();
    let closed = false;
    socket.on('close', () => (closed = true));
    try {
      socket.write(requestHead('POST', PATH, [['Host', 'x'], AUTH, ['Content-Length', '1000']]) + 'x'.repeat(10));
      const res: RawResponse = await readResponse(socket, 5_000);
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body)).toMatchObject({ status: 408, reason: 'body_timeout' });
      expect(res.headers.connection).toBe('close');
      socket.resume();
      await waitFor(() => closed, 3_000);
      expect(upstream().bodies).toHaveLength(before);
      await waitFor(() => upstream().aborted() > 0);
      const line = await waitFor(() => fx.kg.logs().find((l) => l.reason === 'body_timeout'));
      expect(line).toMatchObject({ status: 408 });
    } finally {
      socket.destroy();
    }
  });

  it('a body with pauses shorter than timeouts.idle is forwarded whole', async () => {
    const socket = await open();
    try {
      const chunks = 5;
      socket.write(requestHead('POST', PATH, [['Host', 'x'], AUTH, ['Content-Length', String(chunks * 10)], ['Connection', 'close']]));
      for (let i = 0; i < chunks; i++) {
        socket.write('y'.repeat(10));
        // Pacing the client (a third of the idle timeout between chunks), not waiting for keygate.
        await new Promise((r) => setTimeout(r, IDLE_MS / 3));
      }
      const res = await readResponse(socket, 5_000);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ bodyBytes: chunks * 10 });
    } finally {
      socket.destroy();
    }
  });

  it('a body keygate holds back because the upstream reads slowly is not a client pause', async () => {
    const size = 16 * 1024 * 1024;
    const socket = await open();
    try {
      socket.write(
        requestHead('POST', `${PATH}/slow-reader`, [['Host', 'x'], AUTH, ['Content-Length', String(size)], ['Connection', 'close']]),
      );
      socket.write(Buffer.alloc(size, 0x7a));
      const res = await readResponse(socket, 10_000);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ bodyBytes: size });
    } finally {
      socket.destroy();
    }
  });
});
