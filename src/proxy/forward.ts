import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { upstreamErrorKind, type UpstreamErrorKind } from '../observability/labels.js';
import type { Destination } from './access.js';
import { clientResponseHeaders } from './headers.js';
import type { Upstreams } from './upstreams.js';


export type ForwardResult =
  | { outcome: 'responded'; status: number; upstreamMs: number }
  | { outcome: 'upstream_error'; kind: UpstreamErrorKind; upstreamMs: number; headersSent: boolean; code: string }
  | { outcome: 'body_too_large'; upstreamMs: number }
  | { outcome: 'client_gone'; upstreamMs: number; status?: number };

export interface ForwardOptions {
  readonly headers: string[];
  readonly requestId: string;
  readonly bodyLimit?: number;
}

/**
 * Streams the request to the upstream and the response back, both ways with backpressure.
 * A client that goes away aborts the upstream request; an upstream that fails mid-body
 * ends the client's response by closing the connection (never a silent truncation).
 */
export async function forward(upstreams: Upstreams, dest: Destination, req: IncomingMessage, res: ServerResponse, opts: ForwardOptions): Promise<ForwardResult> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  const limiter = opts.bodyLimit === undefined ? undefined : new BodyLimit(opts.bodyLimit);
  let status: number | undefined;
  try {
    const upstream = await upstreams.poolFor(dest.service).request({
      origin: dest.service.upstream.origin,
      path: dest.upstreamPath,
      method: req.method as 'GET',
      headers: opts.headers,
      body: requestBody(req, limiter),
      signal: abort.signal,
      headersTimeout: dest.service.timeouts.response,
      bodyTimeout: dest.service.timeouts.idle,
    });
    status = upstream.statusCode;
    res.writeHead(status, clientResponseHeaders(upstream.headers, opts.requestId));
    await pipeline(upstream.body, res);
    return { outcome: 'responded', status, upstreamMs: elapsed() };
  } catch (err) {
    if (limiter?.exceeded) return { outcome: 'body_too_large', upstreamMs: elapsed() };
    if (abort.signal.aborted || req.errored) return { outcome: 'client_gone', upstreamMs: elapsed(), ...(status ? { status } : {}) };
    return { outcome: 'upstream_error', kind: upstreamErrorKind(err), upstreamMs: elapsed(), headersSent: res.headersSent, code: errorCode(err) };
  } finally {
    res.off('close', onClose);
  }
}

function requestBody(req: IncomingMessage, limiter: BodyLimit | undefined): IncomingMessage | Transform | undefined {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return undefined;
  if (!limiter) return req;
  req.pipe(limiter);
  req.once('error', (e) => limiter.destroy(e));
  return limiter;
}

/** Counts body bytes and fails the stream past the limit (for bodies without Content-Length). */
class BodyLimit extends Transform {
  exceeded = false;
  private seen = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      this.exceeded = true;
      done(new Error('request body exceeds limits.body'));
      return;
    }
    done(null, chunk);
  }
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : 'UNKNOWN';
}
