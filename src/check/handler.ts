import type { IncomingMessage, ServerResponse } from 'node:http';
import { allowedLimitHeaders, hasBody } from '../proxy/headers.js';
import { openRequest, type DecisionRuntime, type OnBug, type OpenedRequest } from '../proxy/opening.js';
import { refuseUnreadBody, sendProblem } from '../proxy/problem.js';
import { allowHeaders } from './answer.js';
import { readOriginal, type Dialect } from './dialect.js';

/** The decision API needs the proxy's runtime minus its upstream pools: it never forwards. */
export type CheckRuntime = DecisionRuntime;

/**
 * One decision on `listen.check`, in order:
 *   dialect (400) → path safety (400) → route (404) → authenticate (401) → authorize (403)
 *   → 200 with the headers the upstream should receive.
 * The same opening as the proxy, so a request is allowed here exactly when the
 * proxy would forward it (`limits.body` aside: no body is ever seen). The body is never
 * read: the answer goes out as soon as the headers are decided, and the connection is
 * closed if a body was announced — so the unread body is never waited for, and a peer
 * whose Content-Length was a lie (nginx without `proxy_set_header Content-Length ""`)
 * cannot desync the next request on the connection.
 * Not async: a decision made at once is answered without a promise (see handleProxyRequest).
 */
export function handleCheckRequest(rt: CheckRuntime, req: IncomingMessage, res: ServerResponse, onBug: OnBug): void {
  try {
    if (rt.draining() || hasBody(req)) res.setHeader('connection', 'close');
    const read = readOriginal(req, rt.snapshot().listen.checkDialect);
    const dialect = read.ok ? read.original.dialect : read.dialect;
    const opening = openRequest(rt, req, 'check', read);
    if (opening instanceof Promise) void answerLater(opening, dialect, req, res, onBug);
    else answer(opening, dialect, req, res);
  } catch (e) {
    onBug(e, res);
  }
}

/** A decision that waited (a slow hash, a remote limiter, a signature). */
async function answerLater(
  opening: Promise<OpenedRequest>,
  dialect: Dialect,
  req: IncomingMessage,
  res: ServerResponse,
  onBug: OnBug,
): Promise<void> {
  try {
    answer(await opening, dialect, req, res);
  } catch (e) {
    onBug(e, res);
  }
}

function answer(opened: OpenedRequest, dialect: Dialect, req: IncomingMessage, res: ServerResponse): void {
  const { requestId, outcome } = opened;
  refuseUnreadBody(req, res);
  if (outcome.allow) {
    const limitHeaders = allowedLimitHeaders(outcome.limits);
    const headers = allowHeaders(outcome, dialect, req.rawHeaders, requestId, opened.identity(outcome.key));
    if (limitHeaders) for (const name in limitHeaders) headers[name] = limitHeaders[name];
    res.writeHead(200, headers);
    res.end();
  } else {
    sendProblem(res, outcome.reason, requestId, outcome.detail, outcome.limits);
  }
  opened.finish();
}
