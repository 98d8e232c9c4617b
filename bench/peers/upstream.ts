/**
 * The benchmark's upstream, run as its own process: a small JSON answer, a 64 KiB answer
 * for paths ending in /big, and any request body (the 1 MiB upload) read to the end.
 * Prints {"port":N} once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BIG = Buffer.alloc(64 * 1024, 'k');
const SMALL = Buffer.from(JSON.stringify({ id: 'srv-1', name: 'web-1', status: 'ACTIVE', flavor: 'm1.small' }));

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    if (req.method === 'POST' || req.method === 'PUT') {
      const body = Buffer.from(JSON.stringify({ received: bytes }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
      return;
    }
    const body = req.url?.endsWith('/big') ? BIG : SMALL;
    res.writeHead(200, { 'content-type': body === BIG ? 'application/octet-stream' : 'application/json', 'content-length': body.length });
    res.end(body);
  });
});

server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'started', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
