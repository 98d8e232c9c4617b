/**
 * The decision API's floor: a bare node:http server answering every request `200` with
 * no body, as keygate's check listener does for an allowed request (same server options).
 * Prints {"event":"started","port":N} once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer(
  { maxHeaderSize: 16 * 1024, requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 65_000 },
  (_req, res) => {
    res.writeHead(200, { 'content-length': '0' });
    res.end();
  },
);

server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'started', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
