import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, waitFor, type KeygateProcess } from '../helpers/keygate.js';

/**
 * Bodies are streamed both ways, never buffered whole. keygate runs as a child process
 * so its memory can be read from /proc without counting the test's own buffers.
 */
const MiB = 1024 * 1024;
const AUTH = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** The upstream: hashes uploads, serves downloads, and can stop reading or writing on demand. */
class Upstream {
  readonly server: Server;
  readonly download = randomBytes(20 * MiB);
  /** While false, uploads are not read (the request is paused). */
  reading = true;
  /** Bytes of a /flood response the upstream's socket has accepted so far. */
  flooded = 0;
  received = 0;

  constructor() {
    this.server = createServer((req, res) => {
      if (req.url?.endsWith('/download')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': this.download.length });
        // Many writes, so the response really is a stream of chunks.
        for (let i = 0; i < this.download.length; i += MiB) res.write(this.download.subarray(i, i + MiB));
        res.end();
        return;
      }
      if (req.url?.includes('/flood')) return this.flood(req, res, Number(new URL(req.url, 'http://x').searchParams.get('bytes')));
      this.upload(req, (bytes, digest) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes, sha256: digest }));
      });
    });
  }

  private upload(req: IncomingMessage, done: (bytes: number, digest: string) => void): void {
    const hash = createHash('sha256');
    let bytes = 0;
    const readWhenAllowed = (): void => {
      if (this.reading) req.resume();
      else setTimeout(readWhenAllowed, 10);
    };
    req.pause();
    readWhenAllowed();
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      this.received += c.length;
      hash.update(c);
    });
    req.on('end', () => done(bytes, hash.digest('hex')));
  }

  private flood(req: IncomingMessage, res: import('node:http').ServerResponse, total: number): void {
    req.resume();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    res.writeHead(200, { 'content-length': total });
    const pump = (): void => {
      while (this.flooded < total) {
        this.flooded += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Sends `total` bytes of `chunk`s with backpressure; `sent` counts what the socket accepted. */
function upload(
  port: number,
  total: number,
  chunkOf: (offset: number) => Buffer,
  progress: { sent: number },
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/compute/v2/p1/servers/upload',
        headers: { ...AUTH, 'transfer-encoding': 'chunked' },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown>));
      },
    );
    req.on('error', reject);
    const pump = (): void => {
      while (progress.sent < total) {
        const chunk = chunkOf(progress.sent);
        progress.sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** Resolves once `read()` has not changed for `quietMs`: the sender is blocked by backpressure. */
async function stalled(read: () => number, quietMs = 250, timeoutMs = 5_000): Promise<number> {
  let last = -1;
  let since = Date.now();
  return waitFor(
    () => {
      const now = read();
      if (now !== last) {
        last = now;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= quietMs ? now : undefined;
    },
    timeoutMs,
    () => `still moving: ${read()}`,
  );
}

describe('streaming through keygate (child process)', () => {
  const up = new Upstream();
  let cfg: TempConfig;
  let kg: KeygateProcess;
  let port: number;
  beforeAll(async () => {
    cfg = tempConfig(await up.listen());
    kg = spawnKeygate(['serve', '-c', cfg.mainFile]);
    port = (await kg.ports()).proxy;
  });
  afterAll(async () => {
    kg?.child.kill('SIGTERM');
    await kg?.exited;
    await up.close();
    cfg?.cleanup();
  });

  it('a 20 MiB upload arrives intact (checksum seen by the upstream)', async () => {
    const body = randomBytes(20 * MiB);
    const answer = await upload(port, body.length, (at) => body.subarray(at, at + 256 * 1024), { sent: 0 });
    expect(answer).toEqual({ bytes: body.length, sha256: sha256(body) });
  });

  it('a 20 MiB download arrives intact (checksum seen by the client)', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/compute/v2/p1/servers/download`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(up.download.length));
    const got = Buffer.from(await res.arrayBuffer());
    expect(got.length).toBe(up.download.length);
    expect(sha256(got)).toBe(sha256(up.download));
  });

  it.skipIf(!existsSync('/proc/self/status'))('a 200 MiB upload to an upstream that stops reading is not buffered by keygate', async () => {
    const pid = kg.child.pid!;
    const total = 200 * MiB;
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const before = rssMiB(pid);
    up.reading = false;
    up.received = 0;
    const progress = { sent: 0 };
    const answer = upload(port, total, () => chunk, progress);
    const sentWhileBlocked = await stalled(() => progress.sent);
    const grown = rssMiB(pid) - before;
    // Only socket buffers (kernel memory, outside keygate's RSS) hold the difference.
    expect(sentWhileBlocked - up.received).toBeLessThan(96 * MiB);
    expect(sentWhileBlocked).toBeLessThan(total / 2);
    expect(grown).toBeLessThan(32);
    up.reading = true;
    expect(await answer).toMatchObject({ bytes: total });
  });

  it.skipIf(!existsSync('/proc/self/status'))('a 200 MiB download to a client that stops reading is not buffered by keygate', async () => {
    const pid = kg.child.pid!;
    const total = 200 * MiB;
    const before = rssMiB(pid);
    up.flooded = 0;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: `/compute/v2/p1/servers/flood?bytes=${total}`, headers: AUTH }, (r) => {
        r.pause();
        resolve(r);
      })
        .on('error', reject)
        .end();
    });
    const writtenWhileBlocked = await stalled(() => up.flooded);
    expect(writtenWhileBlocked).toBeLessThan(total / 2);
    expect(rssMiB(pid) - before).toBeLessThan(32);
    let received = 0;
    res.on('data', (c: Buffer) => (received += c.length));
    await new Promise((resolve, reject) => res.on('end', resolve).on('error', reject).resume());
    expect(received).toBe(total);
  });
});
