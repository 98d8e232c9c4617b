import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { pathWithoutQuery } from './serializers.js';

interface Reply {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const TEXT = 'text/plain; charset=utf-8';

type AdminMetrics = Pick<Metrics, 'metricsText' | 'contentType'>;
type AdminLogger = Pick<Logger, 'error'>;

/** The JWKS document's text (public keys of the identity assertions), served when given. */
export type JwksText = () => string;

export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * The admin routes: `/metrics`, `/healthz` (the process answers), `/readyz` (ready to
 * take traffic) and `/.well-known/jwks.json` (the assertion keys). Served on their own
 * listener so the proxy never serves these paths and a scrape never competes with a
 * client for a connection.
 */
export function adminHandler(
  metrics: AdminMetrics,
  isReady: () => boolean,
  logger?: AdminLogger,
  jwks?: JwksText,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void route(req, metrics, isReady, logger, jwks).then((reply) => send(req, res, reply));
  };
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

async function route(
  req: IncomingMessage,
  metrics: AdminMetrics,
  isReady: () => boolean,
  logger: AdminLogger | undefined,
  jwks: JwksText | undefined,
): Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { status: 405, body: 'method not allowed', headers: { allow: 'GET, HEAD' } };
  }
  switch (pathWithoutQuery(req.url ?? '/')) {
    case '/metrics':
      return metricsReply(metrics, logger);
    case '/healthz':
      return { status: 200, body: 'ok' };
    case '/readyz':
      return readyReply(isReady, logger);
    case JWKS_PATH:
      return jwks ? { status: 200, body: jwks(), contentType: 'application/jwk-set+json' } : { status: 404, body: 'not found' };
    default:
      return { status: 404, body: 'not found' };
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
