import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface AdminServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly metrics: AdminMetrics;
  /** A config snapshot is loaded, the listeners are up and keygate is not draining. */
  readonly isReady: () => boolean;
  readonly logger: Logger;
}

export interface AdminServer {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const TEXT = 'text/plain; charset=utf-8';

type AdminMetrics = Pick<Metrics, 'metricsText' | 'contentType'>;
type AdminLogger = Pick<Logger, 'error'>;

/**
 * The admin routes: `/metrics`, `/healthz` (the process answers) and `/readyz`
 * (ready to take traffic). Served on their own listener so the proxy never serves
 * these paths and a scrape never competes with a client for a connection.
 */
export function adminHandler(metrics: AdminMetrics, isReady: () => boolean, logger?: AdminLogger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void route(req, metrics, isReady, logger).then((reply) => send(req, res, reply));
  };
}

/** A standalone admin listener on `host:port` (the app may also mount `adminHandler` on its own listener). */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer(adminHandler(options.metrics, options.isReady, options.logger));
  await listen(server, options.host, options.port);
  const { address, port } = server.address() as AddressInfo;
  options.logger.info({ event: 'admin_listening', address, port }, 'admin listener started');
  return { address: { host: address, port }, close: () => close(server) };
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? TEXT,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
    ...reply.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

async function route(req: IncomingMessage, metrics: AdminMetrics, isReady: () => boolean, logger: AdminLogger | undefined): Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { status: 405, body: 'method not allowed', headers: { allow: 'GET, HEAD' } };
  }
  switch (pathOf(req.url)) {
    case '/metrics': return metricsReply(metrics, logger);
    case '/healthz': return { status: 200, body: 'ok' };
    case '/readyz': return readyReply(isReady, logger);
    default: return { status: 404, body: 'not found' };
  }
}

async function metricsReply(metrics: AdminMetrics, logger: AdminLogger | undefined): Promise<Reply> {
  try {
    return { status: 200, body: await metrics.metricsText(), contentType: metrics.contentType };
  } catch (err) {
    logger?.error({ event: 'metrics_failed', err }, 'collecting metrics failed');
    return { status: 500, body: 'collecting metrics failed' };
  }
}

function readyReply(isReady: () => boolean, logger: AdminLogger | undefined): Reply {
  try {
    return isReady() ? { status: 200, body: 'ready' } : { status: 503, body: 'not ready' };
  } catch (err) {
    logger?.error({ event: 'readiness_failed', err }, 'readiness check failed');
    return { status: 503, body: 'not ready' };
  }
}

function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const end = target.indexOf('?');
  return end === -1 ? target : target.slice(0, end);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Scrapers keep connections alive; close them too, or close() would wait for their timeout. */
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
