import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { statusOf } from '../errors.js';
import { clientResponseHeaders, hasBody } from './headers.js';
import { openRequest } from './opening.js';
import { upstreamHeaders } from './pipeline.js';
import { rawProblem } from './problem.js';
import { upgradeProtocols } from './requestMeaning.js';
import type { ProxyRuntime } from './runtime.js';
import { upstreamFailure } from './upstreamError.js';

/**
 * WebSocket (and any other `Upgrade:`) requests: the same decision as a plain request,
 * then an upgrade on the service's pool, then bytes are piped both ways. An upstream
 * that refuses the upgrade has its answer relayed.
 */
export async function handleUpgrade(rt: ProxyRuntime, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
  client.on('error', () => client.destroy());
  const opened = await openRequest(rt, req, 'proxy');
  const { requestId, outcome, clientIp } = opened;
  if (!outcome.allow) {
    client.end(rawProblem(outcome.reason, requestId, outcome.detail, outcome.limits));
    return opened.finish({ status: statusOf(outcome.reason), reason: outcome.reason });
  }
  if (hasBody(req)) {
    // Where a body ends and the new protocol begins is for the upstream to guess: refuse.
    client.end(rawProblem('upgrade_not_allowed', requestId, 'an upgrade request may not carry a body'));
    return opened.finish({ status: 400, reason: 'upgrade_not_allowed', decision: 'deny' });
  }
  const dest = outcome.destination;
  const requested = String(req.headers.upgrade ?? 'websocket');
  const upstreamStarted = performance.now();
  try {
    const answer = await dispatchUpgrade(rt.upstreams.poolFor(dest.service), {
      path: dest.upstreamPath,
      method: req.method ?? 'GET',
      headers: upstreamHeaders(outcome, req, requestId, opened),
      upgrade: requested,
      headersTimeout: dest.service.timeouts.response,
    });
    const upstreamMs = performance.now() - upstreamStarted;
    if (!answer.upgraded) {
      client.end(refusal(answer, requestId));
      return opened.finish({ status: answer.status, reason: 'allow', upstreamStatus: answer.status, upstreamMs });
    }
    if (!switchedAsAsked(requested, answer.headers)) {
      // An upstream that switches to a protocol nobody asked for (h2c for a websocket
      // request) would get a connection keygate cannot check: close it.
      answer.socket.destroy();
      client.end(rawProblem('upstream_failed', requestId));
      return opened.finish({
        status: 502,
        reason: 'upstream_failed',
        upstreamStatus: 101,
        upstreamMs,
        upstreamError: 'other',
        upstreamErrorCode: 'UPGRADE_PROTOCOL_MISMATCH',
      });
    }
    client.write(switchingProtocols(answer.headers, requestId));
    if (head.length) answer.socket.write(head);
    splice(client, answer.socket);
    const websocket = String(req.headers.upgrade).toLowerCase() === 'websocket';
    const grant = { key: outcome.key, destination: dest, method: req.method ?? 'GET', clientIp };
    const leave = rt.sessions.add({ kind: 'upgrade', grant, end: () => endUpgraded(client, answer.socket, websocket) });
    client.once('close', leave);
    opened.finish({ status: 101, reason: 'allow', upstreamStatus: 101, upstreamMs });
  } catch (err) {
    const { reason, kind, code } = upstreamFailure(err);
    client.end(rawProblem(reason, requestId));
    opened.finish({ status: statusOf(reason), reason, upstreamError: kind, upstreamErrorCode: code });
  }
}

type Headers = Record<string, string | string[] | undefined>;

/** The upstream switched protocols, or refused with an ordinary response that the client should see. */
type UpgradeAnswer =
  | { readonly upgraded: true; readonly headers: Headers; readonly socket: Duplex }
  | { readonly upgraded: false; readonly status: number; readonly headers: Headers; readonly body: Buffer };

/** A refusal is a short error page; anything longer is not worth holding. */
const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * undici's `upgrade()` turns any non-101 answer into a 'bad upgrade' error, which would
 * show the client a 502 where the upstream said 401, 403 or 404. This handler keeps
 * that answer (its body bounded) so it can be relayed.
 */
function dispatchUpgrade(pool: Pool, opts: Dispatcher.DispatchOptions & { upgrade: string }): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Headers = {};
    const chunks: Buffer[] = [];
    let size = 0;
    pool.dispatch(opts, {
      onRequestStart: () => undefined, // its presence selects undici's current handler API
      onRequestUpgrade: (_c, _status, upgradedHeaders, socket) => resolve({ upgraded: true, headers: upgradedHeaders, socket }),
      onResponseStart: (_c, statusCode, responseHeaders) => {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData: (controller, chunk) => {
        size += chunk.length;
        if (size > MAX_REFUSAL_BODY)
          controller.abort(Object.assign(new Error('upgrade refusal body too large'), { code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' }));
        else chunks.push(chunk);
      },
      onResponseEnd: () => resolve({ upgraded: false, status, headers, body: Buffer.concat(chunks) }),
      onResponseError: (_c, err) => reject(err),
    });
  });
}

/** The upstream's refusal as the client receives it: hop-by-hop headers dropped, our request id, then close. */
function refusal(answer: Extract<UpgradeAnswer, { upgraded: false }>, requestId: string): Buffer {
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`.trimEnd()];
  for (const [name, value] of Object.entries(clientResponseHeaders(answer.headers, requestId))) {
    if (name === 'content-length') continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  lines.push(`content-length: ${answer.body.length}`, 'connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), answer.body]);
}

function switchingProtocols(headers: Headers, requestId: string): string {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'x-request-id') continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  lines.push(`x-request-id: ${requestId}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** How long a client gets to take the close frame before its socket is destroyed anyway. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Ends an upgraded connection whose key lost access: a WebSocket client gets a close
 * frame with code 1008 (policy violation), then both sockets close; any other protocol
 * is just closed.
 */
function endUpgraded(client: Duplex, upstream: Duplex, websocket: boolean): void {
  const destroyBoth = (): void => {
    clearTimeout(timer);
    client.destroy();
    upstream.destroy();
  };
  const timer = setTimeout(destroyBoth, websocket ? CLOSE_GRACE_MS : 0);
  timer.unref();
  if (!websocket) return destroyBoth();
  upstream.unpipe(client);
  client.unpipe(upstream);
  client.end(websocketClose(1008, 'access revoked'), destroyBoth);
}

/** An unmasked (server-to-client) WebSocket close frame, RFC 6455 §5.5.1. */
function websocketClose(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  return Buffer.concat([Buffer.from([0x88, 2 + text.length, code >> 8, code & 0xff]), text]);
}

/** The 101 names only protocols the client asked for (RFC 9110 §7.8). */
function switchedAsAsked(requested: string, headers: Headers): boolean {
  const asked = new Set(upgradeProtocols(requested));
  const switched = upgradeProtocols([headers.upgrade ?? ''].flat().join(','));
  return switched.length > 0 && switched.every((p) => asked.has(p));
}

function splice(a: Duplex, b: Duplex): void {
  const teardown = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', teardown).on('close', teardown);
  b.on('error', teardown).on('close', teardown);
  a.pipe(b).pipe(a);
}
