import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream saw, so tests can assert what it did NOT receive. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
  readonly bodySha256: string;
  /** The body's first BODY_HEAD_BYTES, as latin1 text (form fields a framework would read). */
  readonly bodyHead: string;
}

const BODY_HEAD_BYTES = 4096;

export interface TestUpstream {
  readonly server: Server;
  readonly origin: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/** Echoes what it received as JSON: method, url, headers. */
export const echo: UpstreamHandler = (_req, res, seen) => {
  const body = JSON.stringify(seen);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** A real HTTP upstream on 127.0.0.1:0 that records every request after reading its body. */
export async function startUpstream(handler: UpstreamHandler = echo): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let head = '';
    req.on('data', (chunk: Buffer) => {
      if (bytes < BODY_HEAD_BYTES) head += chunk.subarray(0, BODY_HEAD_BYTES - bytes).toString('latin1');
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const s: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
        bodyHead: head,
      };
      seen.push(s);
      handler(req, res, s);
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    origin,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
