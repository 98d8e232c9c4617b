/**
 * The "bare" peer: an undici pass-through forwarder with no auth, no metrics and no logs,
 * and the same server options and keep-alive pool settings as keygate's Listener and
 * Upstreams, so the difference between the two is what keygate adds.
 * Usage: forwarder.ts ORIGIN [pipeline]; prints {"port":N} once listening. With
 * `pipeline` it relays bodies with stream.pipeline, as a first forwarder usually does:
 * that costs an AbortController and a DOMException per request (about 100 us here).
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const origin = process.argv[2];
if (!origin) throw new Error('usage: forwarder.ts http://127.0.0.1:PORT [pipeline]');
const withPipeline = process.argv[3] === 'pipeline';

// As src/proxy/upstreams.ts, with the example config's timeouts (connect 2s, response 30s).
const pool = new Pool(origin, {
  connectTimeout: 2_000,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  headersTimeout: 30_000,
  bodyTimeout: 300_000,
});

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function requestHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

// As src/proxy/listener.ts; the body is relayed the way src/proxy/forward.ts does it
// (pipe, an EventEmitter as undici's abort signal), so no streaming cost differs.
const server = createServer(
  { maxHeaderSize: 16 * 1024, requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 65_000 },
  (req, res) => {
    const abort = new EventEmitter();
    res.once('close', () => {
      if (!res.writableFinished) abort.emit('abort');
    });
    pool
      .request({
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as 'GET',
        headers: requestHeaders(req.rawHeaders),
        body: hasBody(req) ? req : null,
        signal: abort,
      })
      .then((up) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(up.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        }
        res.writeHead(up.statusCode, headers);
        if (withPipeline) return pipeline(up.body, res);
        up.body.on('error', () => res.destroy());
        up.body.pipe(res);
        return undefined;
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  },
);

server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'started', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
