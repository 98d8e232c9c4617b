import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';

/**
 * An HTTP/2 request (node:http2's compatibility API) in the shape every entry point
 * reads from HTTP/1.1, so both take the same path and get the same decision:
 *   - pseudo-headers leave the header lists (`:path` is already `req.url`, `:method`
 *     `req.method`), so none is ever forwarded or read as a header;
 *   - `:authority` becomes `Host` (RFC 9113 §8.3.1). A `Host` header that differs from
 *     it stays too, and the request is refused as carrying two Hosts, like HTTP/1.1;
 *   - `headersDistinct`, which the compatibility API lacks.
 * The connection-specific headers RFC 9113 §8.2.2 forbids (`connection`, `upgrade`,
 * `transfer-encoding`, `keep-alive`, `proxy-connection`, `te` other than `trailers`)
 * never arrive: nghttp2 resets such a stream before any handler runs.
 */
/** Headers of which node:http's `req.headers` keeps the first (its matchKnownFields). */
const FIRST_WINS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

export function asHttp1Shape(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  const rawHeaders: string[] = [];
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    if (name === 'host') host ??= raw[i + 1];
    rawHeaders.push(name, raw[i + 1]);
  }
  if (authority !== undefined && authority !== host) rawHeaders.push('host', authority);
  const headers: IncomingHttpHeaders = {};
  const distinct: Record<string, string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]; // HTTP/2 field names are lower case on the wire
    const value = rawHeaders[i + 1];
    (distinct[name] ??= []).push(value);
    const seen = headers[name];
    if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else if (!FIRST_WINS.has(name)) headers[name] = name === 'cookie' ? `${seen}; ${value}` : `${seen}, ${value}`;
  }
  Object.defineProperty(req, 'rawHeaders', { value: rawHeaders, configurable: true });
  Object.defineProperty(req, 'headers', { value: headers, configurable: true, writable: true });
  Object.defineProperty(req, 'headersDistinct', { value: distinct, configurable: true });
}

/** The request came over HTTP/2 (ALPN h2, or h2c). */
export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/**
 * An HTTP/2 request whose body follows its headers: HTTP/2 has no chunked encoding, so a
 * body of unknown length has neither Content-Length nor Transfer-Encoding.
 */
export function http2BodyFollows(req: IncomingMessage): boolean {
  return (req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;
}

/**
 * An answer of headers alone. Over HTTP/2 they go out in one HEADERS frame that ends the
 * stream: gRPC's "trailers-only" form, the only one in which a client reads `grpc-status`
 * from the headers (the compatibility API would send HEADERS and then an empty DATA frame).
 */
export function respondHeadersOnly(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  const stream = (res as { stream?: ServerHttp2Stream }).stream;
  if (stream !== undefined && res.req !== undefined && isHttp2(res.req)) {
    stream.respond({ ...headers, ':status': status }, { endStream: true });
    return;
  }
  res.writeHead(status, headers);
  res.end();
}
