import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Destination } from './access.js';
import type { ForwardOptions, ForwardResult } from './forward.js';
import { clientResponseHeaders, hasBody } from './headers.js';
import { respondHeadersOnly } from './http2Shape.js';
import { upstreamFailure } from './upstreamError.js';
import type { Upstreams } from './upstreams.js';

/** Request headers HTTP/2 forbids (RFC 9113 §8.2.2) or that become pseudo-headers. */
const NOT_IN_HTTP2 = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/**
 * Forwards to a `protocol: h2 | grpc` upstream over node:http2 (one multiplexed connection
 * per upstream), streaming both ways at once: the upstream may answer, and keep answering,
 * while the client is still sending (gRPC client, server and bidirectional streams).
 * Trailers pass through both ways (`grpc-status` lives there). node:http2, not undici:
 * undici's request API neither streams a request body while delivering the response nor
 * sends request trailers.
 */
export function forwardHttp2(
  upstreams: Upstreams,
  dest: Destination,
  req: IncomingMessage,
  res: ServerResponse,
  opts: ForwardOptions,
  body: Readable | undefined,
): Promise<ForwardResult> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const service = dest.service;
  const sendsBody = opts.body !== undefined || hasBody(req);
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    const settle = (result: ForwardResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(headersTimer);
      res.off('close', onClientClose);
      resolve(result);
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      if (!upstream.destroyed) upstream.close(constants.NGHTTP2_CANCEL);
      const failure = upstreamFailure(err);
      // Mid-response, the client can only learn it from the stream ending abnormally.
      if (res.headersSent) res.destroy();
      settle({ outcome: 'upstream_error', failure, upstreamMs: elapsed(), headersSent: res.headersSent });
    };
    let upstream: ClientHttp2Stream;
    try {
      upstream = upstreams.sessionFor(service).request(requestHeaders(opts.headers, dest, req), {
        endStream: !sendsBody,
        waitForTrailers: sendsBody,
      });
    } catch (e) {
      // A session that is closing refuses new streams synchronously.
      settle({ outcome: 'upstream_error', failure: upstreamFailure(e), upstreamMs: elapsed(), headersSent: false });
      return;
    }
    const headersTimer = setTimeout(
      () => fail(Object.assign(new Error('no response headers within timeouts.response'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
      service.timeouts.response,
    );
    headersTimer.unref();
    const onClientClose = (): void => {
      if (res.writableFinished || settled) return;
      if (!upstream.destroyed) upstream.close(constants.NGHTTP2_CANCEL);
      settle({ outcome: 'client_gone', upstreamMs: elapsed(), ...(status ? { status } : {}) });
    };
    res.once('close', onClientClose);
    upstream.on('error', fail);
    upstream.on('wantTrailers', () => upstream.sendTrailers(forwardableTrailers(req.trailers)));
    upstream.once('response', (headers, flags) => {
      clearTimeout(headersTimer);
      status = Number(headers[':status']);
      const answer = clientResponseHeaders(withoutPseudo(headers), opts.requestId);
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        // Trailers-only (a gRPC error): kept in that form, or the client would miss its grpc-status.
        respondHeadersOnly(res, status, answer);
        settle({ outcome: 'responded', status, upstreamMs: elapsed() });
        return;
      }
      res.writeHead(status, answer);
      if (headers['content-length'] === undefined) opts.onOpenEndedResponse?.();
      upstream.pipe(res, { end: false });
    });
    upstream.once('trailers', (trailers: IncomingHttpHeaders) => res.addTrailers(withoutPseudo(trailers) as Record<string, string>));
    upstream.once('end', () => {
      if (status === undefined) return; // ended without a response: 'close' reports it
      res.end();
      res.once('finish', () => settle({ outcome: 'responded', status: status!, upstreamMs: elapsed() }));
    });
    upstream.once('close', () => {
      if (status === undefined || upstream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        fail(Object.assign(new Error(`upstream stream closed (HTTP/2 code ${upstream.rstCode})`), { code: 'ECONNRESET' }));
      }
    });
    if (opts.body !== undefined) upstream.end(opts.body);
    else if (body) {
      body.pipe(upstream);
      body.once('error', (e) => upstream.destroy(e));
    }
  });
}

/** keygate's upstream header list as HTTP/2 headers: pseudo-headers for the target, `te: trailers` kept. */
function requestHeaders(flat: readonly string[], dest: Destination, req: IncomingMessage): OutgoingHttpHeaders {
  const upstreamUrl = dest.service.upstream;
  const headers: OutgoingHttpHeaders = {
    ':method': req.method ?? 'GET',
    ':path': dest.upstreamPath,
    ':scheme': upstreamUrl.protocol === 'https:' ? 'https' : 'http',
    ':authority': upstreamUrl.host,
  };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (NOT_IN_HTTP2.has(name)) continue;
    const seen = headers[name];
    if (seen === undefined) headers[name] = flat[i + 1];
    else headers[name] = Array.isArray(seen) ? [...seen, flat[i + 1]] : [String(seen), flat[i + 1]];
  }
  // gRPC servers require it (and it is the one `te` HTTP/2 allows): "the client understands trailers".
  if (dest.service.protocol === 'grpc' || req.headers.te === 'trailers') headers.te = 'trailers';
  return headers;
}

function withoutPseudo(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) if (name.charCodeAt(0) !== 0x3a) out[name] = headers[name];
  return out;
}

/** The client's request trailers, minus what no trailer may carry. */
function forwardableTrailers(trailers: IncomingMessage['trailers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in trailers) if (!NOT_IN_HTTP2.has(name) && name.charCodeAt(0) !== 0x3a) out[name] = trailers[name];
  return out;
}
