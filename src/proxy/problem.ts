import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientReason, REASONS, type Reason } from '../errors.js';
import type { LimitVerdict } from '../ratelimit/limiter.js';
import { refusalLimitHeaders } from './rateLimitHeaders.js';
import { grpcRefusalHeaders, isGrpcRequest } from './grpcStatus.js';
import { hasBody } from './headers.js';
import { isHttp2, respondHeadersOnly } from './http2Shape.js';

/**
 * What keygate answers by itself, never forwarded: problem documents (RFC 9457), and the
 * lingering close of a request body it will not read.
 */

/** An RFC 9457 problem document; `reason` is what the client may know (401s collapse). */
export interface Problem {
  readonly type: 'about:blank';
  readonly title: string;
  readonly status: number;
  readonly reason: string;
  readonly detail?: string;
  readonly requestId: string;
}

/** Details safe to show a client: path-safety explanations say nothing about keys. */
const CLIENT_VISIBLE_DETAIL = new Set<Reason>([
  'bad_target',
  'no_route',
  'payload_too_large',
  'headers_too_large',
  'body_timeout',
  'upgrade_not_allowed',
  'method_override',
  'method_not_allowed',
]);

export function problemFor(reason: Reason, requestId: string, detail?: string): Problem {
  const status = REASONS[reason].status;
  const shown = clientReason(reason);
  const title = shown === 'invalid_key' ? 'Invalid API key' : REASONS[reason].title;
  return {
    type: 'about:blank',
    title,
    status,
    reason: shown,
    ...(detail && CLIENT_VISIBLE_DETAIL.has(reason) ? { detail } : {}),
    requestId,
  };
}

export function problemHeaders(problem: Problem, bodyLength: number): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(bodyLength),
    'cache-control': 'no-store',
    'x-request-id': problem.requestId,
  };
  if (problem.status === 401) headers['www-authenticate'] = wwwAuthenticate(problem.reason);
  if (problem.status === 429) headers['retry-after'] = '1';
  return headers;
}

function wwwAuthenticate(reason: string): string {
  return reason === 'missing_credentials' ? 'Bearer realm="keygate"' : 'Bearer realm="keygate", error="invalid_token"';
}

/** A refusal as status, headers and body: what every entry point answers (HTTP, raw socket, gRPC). */
export interface ProblemAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** `limits`: the rate limits that refused it (a 429's Retry-After and RateLimit fields). */
export function problemAnswer(reason: Reason, requestId: string, detail?: string, limits?: LimitVerdict): ProblemAnswer {
  const fixed = fixedPart(reason);
  const extra = limits && refusalLimitHeaders(limits);
  // JSON.stringify(problemFor(...)), with the part that depends on the reason alone built once.
  const body =
    fixed.bodyStart +
    (detail && fixed.showsDetail ? `,"detail":${JSON.stringify(detail)}` : '') +
    `,"requestId":${JSON.stringify(requestId)}}`;
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  };
  if (fixed.wwwAuthenticate !== undefined) headers['www-authenticate'] = fixed.wwwAuthenticate;
  if (fixed.status === 429) headers['retry-after'] = '1';
  return { status: fixed.status, headers: extra ? { ...headers, ...extra } : headers, body };
}

/** What a refusal's answer owes to its reason alone: the body up to `detail`, status, WWW-Authenticate. */
interface FixedPart {
  readonly status: number;
  readonly bodyStart: string;
  readonly showsDetail: boolean;
  readonly wwwAuthenticate: string | undefined;
}

const fixedParts = new Map<Reason, FixedPart>();

function fixedPart(reason: Reason): FixedPart {
  let fixed = fixedParts.get(reason);
  if (fixed === undefined) {
    const { type, title, status, reason: shown } = problemFor(reason, '');
    const bodyStart = JSON.stringify({ type, title, status, reason: shown }).slice(0, -1);
    const wwwAuthenticate = status === 401 ? problemHeaders(problemFor(reason, ''), 0)['www-authenticate'] : undefined;
    fixed = { status, bodyStart, showsDetail: CLIENT_VISIBLE_DETAIL.has(reason), wwwAuthenticate };
    fixedParts.set(reason, fixed);
  }
  return fixed;
}

export function sendProblem(res: ServerResponse, reason: Reason, requestId: string, detail?: string, limits?: LimitVerdict): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (isGrpcRequest(res.req)) {
    const problem = problemFor(reason, requestId, detail);
    const extra = limits && refusalLimitHeaders(limits);
    return respondHeadersOnly(res, 200, extra ? { ...grpcRefusalHeaders(problem), ...extra } : grpcRefusalHeaders(problem));
  }
  const answer = problemAnswer(reason, requestId, detail, limits);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

function closeStream(req: IncomingMessage): void {
  if (!req.complete) (req as { stream?: { close(code?: number): void } }).stream?.close(0); // NGHTTP2_NO_ERROR
}

/** The same answer written to a raw socket (upgrade requests, header overflow). */
export function rawProblem(reason: Reason, requestId: string, detail?: string, limits?: LimitVerdict): string {
  const answer = problemAnswer(reason, requestId, detail, limits);
  const head = Object.entries({ ...answer.headers, connection: 'close' })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  return `HTTP/1.1 ${answer.status} ${REASONS[reason].title}\r\n${head}\r\n\r\n${answer.body}`;
}

/**
 * How much of an unread body is still read after a refusal, as nginx's lingering close
 * does: enough that a client still sending sees the answer instead of a reset, never
 * enough to make a refusal cost anything.
 */
export const LINGER = { bytes: 64 * 1024, ms: 1_000 } as const;

/**
 * Call before answering a request that is not forwarded. When a body was announced and
 * not read, the answer says `Connection: close`, at most `LINGER` of the body is read and
 * dropped, and the socket is closed: a refused 1 GB upload (or one that stalls halfway)
 * is never read nor held open. Without a pending body the connection stays reusable.
 */
export function refuseUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (!hasBody(req) || req.complete) {
    req.resume();
    return;
  }
  // HTTP/2: the connection carries other streams. Only this one stops, once answered
  // (RST_STREAM NO_ERROR after a complete response, RFC 9113 §8.1).
  if (isHttp2(req)) {
    res.once('finish', () => closeStream(req));
    return;
  }
  res.setHeader('connection', 'close');
  const socket = req.socket;
  let read = 0;
  const close = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER.ms);
  socket.once('close', () => clearTimeout(timer));
  req.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER.bytes) close();
  });
  // The whole body came within the linger: close as soon as the answer is out.
  req.once('end', () => (res.writableFinished ? close() : res.once('finish', close)));
  // For `Connection: close` Node destroys the socket as soon as the answer is flushed,
  // which resets a client still sending before it reads the answer. Keep the socket for
  // the linger instead (our 'finish' listener runs after Node's, which added the destroy).
  res.once('finish', () => socket.removeListener('finish', socket.destroy));
  req.resume();
}
