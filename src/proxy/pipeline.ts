import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '../config/snapshot.js';
import { statusOf } from '../errors.js';
import { normalizeAddress } from '../policy/cidr.js';
import { authorizeOverrides, type InboundRequest } from './access.js';
import { forward, type ForwardResult } from './forward.js';
import { formMethodOverrides, inspectsForm, readFormPrefix } from './formOverride.js';
import { droppedHeaders, hasBody, upstreamRequestHeaders, type Identity } from './headers.js';
import { openRequest, type Allowed, type Denied, type OnBug, type OpenedRequest, type RecordEnd } from './opening.js';
import { refuseUnreadBody, sendProblem } from './problem.js';
import { allowedLimitHeaders } from './rateLimitHeaders.js';
import { distinctOverrides, isTrace } from './requestMeaning.js';
import type { ProxyRuntime } from './runtime.js';

/**
 * The proxy's request path, in order:
 *   path safety (400) → route (404) → authenticate (401) → authorize (403)
 *   → body limit (413) → forward (502/504, or the upstream's answer).
 * The snapshot is read once, so a reload mid-request never changes its rules.
 * Not async itself: a refusal decided at once is answered without a promise, and a
 * failure inside keygate goes to `onBug` from here or from the forwarding, never through
 * a `.catch` closure made per request.
 */
export function handleProxyRequest(rt: ProxyRuntime, req: IncomingMessage, res: ServerResponse, onBug: OnBug): void {
  try {
    const opening = openRequest(rt, req, 'proxy');
    if (opening instanceof Promise) void proxyLater(rt, req, res, opening, onBug);
    else proxyOpened(rt, req, res, opening, onBug);
  } catch (e) {
    onBug(e, res);
  }
}

async function proxyLater(
  rt: ProxyRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  opening: Promise<OpenedRequest>,
  onBug: OnBug,
): Promise<void> {
  try {
    proxyOpened(rt, req, res, await opening, onBug);
  } catch (e) {
    onBug(e, res);
  }
}

/** Refused here and now, or forwarded (the one step that waits). */
function proxyOpened(rt: ProxyRuntime, req: IncomingMessage, res: ServerResponse, opened: OpenedRequest, onBug: OnBug): void {
  const { requestId, snapshot, outcome } = opened;
  if (rt.draining()) res.setHeader('connection', 'close');
  if (!outcome.allow) {
    refuseUnreadBody(req, res);
    sendProblem(res, outcome.reason, requestId, outcome.detail, outcome.limits);
    return opened.finish({ status: statusOf(outcome.reason), reason: outcome.reason });
  }
  const limit = snapshot.limits.body;
  if (limit !== undefined && Number(req.headers['content-length'] ?? 0) > limit) {
    refuseUnreadBody(req, res);
    sendProblem(res, 'payload_too_large', requestId, `request body larger than ${limit} bytes`);
    return opened.finish({ status: 413, reason: 'payload_too_large', decision: 'deny' });
  }
  const limitHeaders = allowedLimitHeaders(outcome.limits);
  if (limitHeaders) for (const name in limitHeaders) res.setHeader(name, limitHeaders[name]);
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  void forwardAllowed(rt, req, res, opened, outcome, limit, onBug);
}

/** An allowed request: its form checked when it may carry `_method`, then forwarded. */
async function forwardAllowed(
  rt: ProxyRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  opened: OpenedRequest,
  outcome: Allowed,
  limit: number | undefined,
  onBug: OnBug,
): Promise<void> {
  try {
    const { requestId, snapshot, inbound, clientIp } = opened;
    let body: Buffer | undefined;
    if (hasBody(req) && inspectsForm(outcome.destination.service.requests, inbound.method, req.headers['content-type'])) {
      const form = await checkFormOverride(rt, snapshot, outcome, inbound, req);
      if (form.kind === 'client_gone') return opened.finish({ status: 499, reason: 'allow' });
      if (form.kind === 'denied') {
        refuseUnreadBody(req, res);
        sendProblem(res, form.denial.reason, requestId, form.denial.detail);
        return opened.finish({ status: statusOf(form.denial.reason), reason: form.denial.reason, decision: 'deny' });
      }
      body = form.body;
      if (body !== undefined && limit !== undefined && body.length > limit) {
        sendProblem(res, 'payload_too_large', requestId, `request body larger than ${limit} bytes`);
        return opened.finish({ status: 413, reason: 'payload_too_large', decision: 'deny' });
      }
    }
    // An open-ended response (chunked, SSE) of a key that loses access is cut (terminateStreamsOnRevoke);
    // a request with a length-delimited answer finishes on the snapshot it started with.
    let leave: (() => void) | undefined;
    const streaming = (): void => {
      const grant = { key: outcome.key, destination: outcome.destination, method: req.method ?? 'GET', clientIp };
      leave = rt.sessions.add({ kind: 'stream', grant, end: () => res.destroy() });
    };
    let result: ForwardResult;
    try {
      result = await forward(rt.upstreams, outcome.destination, req, res, {
        headers: upstreamHeaders(outcome, req, requestId, opened),
        requestId,
        answerBodyTimeout: () => {
          res.setHeader('connection', 'close');
          sendProblem(res, 'body_timeout', requestId, 'the request body paused longer than timeouts.idle');
        },
        onOpenEndedResponse: streaming,
        ...(limit !== undefined ? { bodyLimit: limit } : {}),
        ...(body !== undefined ? { body } : {}),
      });
    } finally {
      leave?.();
    }
    opened.finish(answerForwardResult(result, req, res, requestId));
  } catch (e) {
    onBug(e, res);
  }
}

type FormCheck = { kind: 'forward'; body?: Buffer } | { kind: 'denied'; denial: Denied } | { kind: 'client_gone' };

/**
 * `_method` in the start of a form body: the upstream would run that method, so the key
 * must be allowed it too (whatever `methodOverride` says: a body cannot be stripped).
 */
async function checkFormOverride(
  rt: ProxyRuntime,
  snapshot: Snapshot,
  outcome: Allowed,
  inbound: InboundRequest,
  req: IncomingMessage,
): Promise<FormCheck> {
  const form = await readFormPrefix(req);
  if (!form.ok) return { kind: 'client_gone' };
  const named = distinctOverrides(inbound.method, formMethodOverrides(form.prefix, req.headers['content-type'] ?? ''));
  if (!named.ok) return { kind: 'denied', denial: { allow: false, reason: 'method_override', step: 0, detail: named.detail } };
  const denial = authorizeOverrides(snapshot, outcome.key, outcome.destination, named.methods, inbound.clientIp, rt.now());
  if (denial) return { kind: 'denied', denial };
  return form.ended ? { kind: 'forward', body: form.prefix } : { kind: 'forward' };
}

/**
 * X-Forwarded-For gets the TCP peer appended, not the client address resolved through
 * trustedProxies: each hop appends whoever connected to it, or the chain would lose the
 * trusted proxy and repeat the client.
 */
export function upstreamHeaders(
  outcome: Allowed,
  req: IncomingMessage,
  requestId: string,
  opened: { snapshot: Snapshot; inbound: InboundRequest; identity(key: Allowed['key']): Identity },
): string[] {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const peerIp = normalizeAddress(req.socket.remoteAddress ?? '');
  const trusted = opened.snapshot.listen.trustedProxies;
  const rules = outcome.destination.service.requests;
  return upstreamRequestHeaders(
    req.rawHeaders,
    outcome.destination.service.serviceToken,
    opened.identity(outcome.key),
    {
      peerIp,
      peerTrusted: trusted.text.length > 0 && trusted.contains(peerIp),
      clientIp: opened.inbound.clientIp,
      proto: encrypted ? 'https' : 'http',
      host: req.headers.host,
      requestId,
      forwardedHeader: rules.forwardedHeader,
      bare: isTrace(opened.inbound.method),
    },
    droppedHeaders(rules),
  );
}

function answerForwardResult(result: ForwardResult, req: IncomingMessage, res: ServerResponse, requestId: string): RecordEnd {
  switch (result.outcome) {
    case 'responded':
      return { status: result.status, reason: 'allow', upstreamMs: result.upstreamMs, upstreamStatus: result.status };
    case 'client_gone':
      // 499 is nginx's "client closed request": the client never saw an answer.
      return { status: 499, reason: 'allow', upstreamMs: result.upstreamMs };
    case 'body_too_large':
      refuseUnreadBody(req, res);
      sendProblem(res, 'payload_too_large', requestId, 'request body larger than limits.body');
      return { status: 413, reason: 'payload_too_large', decision: 'deny', upstreamMs: result.upstreamMs };
    case 'body_timeout':
      // Answered (408) when it happened if the upstream had not answered yet; else only the connection can say it.
      if (!res.writableEnded) res.destroy();
      return { status: 408, reason: 'body_timeout', decision: 'deny', upstreamMs: result.upstreamMs };
    case 'upstream_error': {
      const { reason, kind, code } = result.failure;
      sendProblem(res, reason, requestId);
      return { status: statusOf(reason), reason, upstreamMs: result.upstreamMs, upstreamError: kind, upstreamErrorCode: code };
    }
  }
}
