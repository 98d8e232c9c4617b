import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdFrom } from '../observability/requestId.js';
import { checkAccess, type AccessOutcome, type Denied, type InboundRequest } from '../proxy/access.js';
import { clientAddress } from '../proxy/clientIp.js';
import { hasBody } from '../proxy/forward.js';
import { baseRecord } from '../proxy/pipeline.js';
import { sendProblem } from '../proxy/problem.js';
import { finishedRecord } from '../proxy/record.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import { allowHeaders } from './answer.js';
import { readOriginal, type DialectRead } from './dialect.js';

/** The decision API needs the proxy's runtime minus its upstream pools: it never forwards. */
export type CheckRuntime = Pick<ProxyRuntime, 'snapshot' | 'verifier' | 'observer' | 'now' | 'draining'>;

/**
 * One decision on `listen.check`, in order:
 *   dialect (400) → path safety (400) → route (404) → authenticate (401) → authorize (403)
 *   → 200 with the headers the upstream should receive.
 * The same `checkAccess` as the proxy, so a request is allowed here exactly when the
 * proxy would forward it (`limits.body` aside: no body is ever seen). The body is never
 * read: the answer goes out as soon as the headers are decided, and the connection is
 * closed if a body was announced — so the unread body is never waited for, and a peer
 * whose Content-Length was a lie (nginx without `proxy_set_header Content-Length ""`)
 * cannot desync the next request on the connection.
 */
export async function handleCheckRequest(rt: CheckRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const requestId = requestIdFrom(req.headers['x-request-id']);
  const snapshot = rt.snapshot();
  const done = rt.observer.started('check');
  if (rt.draining() || hasBody(req)) res.setHeader('connection', 'close');
  const read = readOriginal(req);
  const dialect = read.ok ? read.original.dialect : read.dialect;
  const inbound = inboundOf(req, read, clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], snapshot.listen.trustedProxies));
  const outcome: AccessOutcome = read.ok ? await checkAccess(snapshot, rt.verifier, inbound, rt.now()) : badDialect(read.detail);
  const record = baseRecord(outcome, inbound, requestId, performance.now() - started, 'check');
  if (outcome.allow) {
    res.writeHead(200, allowHeaders(outcome, dialect, req.rawHeaders, requestId));
    res.end();
  } else {
    sendProblem(res, outcome.reason, requestId, outcome.detail);
  }
  done(finishedRecord(record, performance.now() - started));
}

function inboundOf(req: IncomingMessage, read: DialectRead, clientIp: string): InboundRequest {
  const original = read.ok ? read.original : undefined;
  return {
    method: original?.method ?? req.method ?? 'GET',
    target: original?.target ?? '',
    host: original?.host,
    headers: req.headersDistinct,
    clientIp,
  };
}

function badDialect(detail: string): Denied {
  return { allow: false, reason: 'bad_target', step: 0, detail };
}
