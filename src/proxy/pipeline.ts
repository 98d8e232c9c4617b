import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '../config/snapshot.js';
import { statusOf } from '../errors.js';
import { requestIdFrom } from '../observability/requestId.js';
import { normalizeAddress } from '../policy/cidr.js';
import { checkAccess, type AccessOutcome, type Allowed, type InboundRequest } from './access.js';
import { clientAddress } from './clientIp.js';
import { forward, type ForwardResult } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import { sendProblem } from './problem.js';
import { finishedRecord, loggablePath, type RecordEnd, type RequestRecord } from './record.js';
import type { ProxyRuntime } from './runtime.js';

/**
 * The proxy's request path, in order:
 *   path safety (400) → route (404) → authenticate (401) → authorize (403)
 *   → body limit (413) → forward (502/504, or the upstream's answer).
 * The snapshot is read once, so a reload mid-request never changes its rules.
 */
export async function handleProxyRequest(rt: ProxyRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { requestId, snapshot, outcome, finish } = await decideRequest(rt, req);
  if (rt.draining()) res.setHeader('connection', 'close');
  if (!outcome.allow) {
    sendProblem(res, outcome.reason, requestId, outcome.detail);
    req.resume();
    return finish({ status: statusOf(outcome.reason), reason: outcome.reason });
  }
  const limit = snapshot.limits.body;
  if (limit !== undefined && Number(req.headers['content-length'] ?? 0) > limit) {
    sendProblem(res, 'payload_too_large', requestId, `request body larger than ${limit} bytes`);
    req.resume();
    return finish({ status: 413, reason: 'payload_too_large', decision: 'deny' });
  }
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  const result = await forward(rt.upstreams, outcome.destination, req, res, {
    headers: upstreamHeaders(outcome, req, requestId),
    requestId,
    ...(limit !== undefined ? { bodyLimit: limit } : {}),
  });
  finish(answerForwardResult(result, res, requestId));
}

export interface DecidedRequest {
  readonly requestId: string;
  readonly snapshot: Snapshot;
  readonly outcome: AccessOutcome;
  /** Reports the request, once, with how it ended. */
  readonly finish: (end: RecordEnd) => void;
}

/**
 * The opening every proxied request shares, plain or upgrade: pin the snapshot (a reload
 * mid-request never changes its rules), decide, and prepare its record.
 */
export async function decideRequest(rt: ProxyRuntime, req: IncomingMessage): Promise<DecidedRequest> {
  const started = performance.now();
  const requestId = requestIdFrom(req.headers['x-request-id']);
  const snapshot = rt.snapshot();
  const inbound = inboundOf(req, snapshot.listen.trustedProxies);
  const done = rt.observer.started('proxy');
  const outcome = await checkAccess(snapshot, rt.verifier, inbound, rt.now());
  const base = baseRecord(outcome, inbound, requestId, performance.now() - started);
  return { requestId, snapshot, outcome, finish: (end) => done(finishedRecord(base, performance.now() - started, end)) };
}

export function inboundOf(req: IncomingMessage, trusted: Parameters<typeof clientAddress>[2]): InboundRequest {
  return {
    method: req.method ?? 'GET',
    target: req.url ?? '',
    host: req.headers.host,
    headers: req.headersDistinct,
    clientIp: clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted),
  };
}

/**
 * X-Forwarded-For gets the TCP peer appended, not the client address resolved through
 * trustedProxies: each hop appends whoever connected to it, or the chain would lose the
 * trusted proxy and repeat the client.
 */
export function upstreamHeaders(outcome: Allowed, req: IncomingMessage, requestId: string): string[] {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  return upstreamRequestHeaders(
    req.rawHeaders,
    outcome.destination.service.serviceToken,
    { user: outcome.key.user, keyId: outcome.key.id, keyName: outcome.key.name },
    { peerIp: normalizeAddress(req.socket.remoteAddress ?? ''), proto: encrypted ? 'https' : 'http', host: req.headers.host, requestId },
  );
}

/**
 * A plain literal of fixed shape (absent parts `undefined`), not conditional spreads:
 * it is built on every request and read by `finishedRecord` right after.
 */
export function baseRecord(outcome: AccessOutcome, inbound: InboundRequest, requestId: string, decisionMs: number, mode: RequestRecord['mode'] = 'proxy'): Omit<RequestRecord, 'totalMs'> {
  const key = outcome.key;
  const denied = outcome.allow ? undefined : outcome;
  return {
    mode,
    requestId,
    method: inbound.method,
    path: loggablePath(inbound.target),
    service: outcome.destination?.service.name || undefined,
    keyId: key ? key.id : denied?.keyId || undefined,
    keyName: key?.name,
    user: key?.user,
    decision: denied ? 'deny' : 'allow',
    reason: denied ? denied.reason : 'allow',
    detail: denied?.detail,
    step: denied?.step,
    status: denied ? statusOf(denied.reason) : 200,
    clientIp: inbound.clientIp,
    decisionMs,
  };
}

function answerForwardResult(result: ForwardResult, res: ServerResponse, requestId: string): RecordEnd {
  switch (result.outcome) {
    case 'responded':
      return { status: result.status, reason: 'allow', upstreamMs: result.upstreamMs, upstreamStatus: result.status };
    case 'client_gone':
      // 499 is nginx's "client closed request": the client never saw an answer.
      return { status: 499, reason: 'allow', upstreamMs: result.upstreamMs };
    case 'body_too_large':
      sendProblem(res, 'payload_too_large', requestId, 'request body larger than limits.body');
      return { status: 413, reason: 'payload_too_large', decision: 'deny', upstreamMs: result.upstreamMs };
    case 'upstream_error': {
      const reason = result.kind === 'timeout' ? 'upstream_timeout' : 'upstream_failed';
      sendProblem(res, reason, requestId);
      return { status: statusOf(reason), reason, upstreamMs: result.upstreamMs, upstreamError: result.kind, upstreamErrorCode: result.code };
    }
  }
}
