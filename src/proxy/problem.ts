import type { ServerResponse } from 'node:http';
import { clientReason, REASONS, type Reason } from '../errors.js';

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
const CLIENT_VISIBLE_DETAIL = new Set<Reason>(['bad_target', 'no_route', 'payload_too_large', 'headers_too_large', 'body_timeout']);

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

export function sendProblem(res: ServerResponse, reason: Reason, requestId: string, detail?: string): void {
  const problem = problemFor(reason, requestId, detail);
  const body = JSON.stringify(problem);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(problem.status, problemHeaders(problem, Buffer.byteLength(body)));
  res.end(body);
}

/** The same answer written to a raw socket (upgrade requests, header overflow). */
export function rawProblem(reason: Reason, requestId: string, detail?: string): string {
  const problem = problemFor(reason, requestId, detail);
  const body = JSON.stringify(problem);
  const headers = { ...problemHeaders(problem, Buffer.byteLength(body)), connection: 'close' };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
  return `HTTP/1.1 ${problem.status} ${REASONS[reason].title}\r\n${head}\r\n\r\n${body}`;
}
