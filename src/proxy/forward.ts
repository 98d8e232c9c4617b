import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Destination } from './access.js';
import { watchBodyIdle } from './bodyIdle.js';
import { clientResponseHeaders, hasBody } from './headers.js';
import { forwardHttp2 } from './http2Forward.js';
import { upstreamFailure, type UpstreamFailure } from './upstreamError.js';
import type { Upstreams } from './upstreams.js';

export type ForwardResult =
  | { outcome: 'responded'; status: number; upstreamMs: number }
  | { outcome: 'upstream_error'; failure: UpstreamFailure; upstreamMs: number; headersSent: boolean }
  | { outcome: 'body_too_large'; upstreamMs: number }
  | { outcome: 'body_timeout'; upstreamMs: number; headersSent: boolean }
  | { outcome: 'client_gone'; upstreamMs: number; status?: number };

export interface ForwardOptions {
  readonly headers: string[];
  readonly requestId: string;
  readonly bodyLimit?: number;
  /**
   * Answers the client when its body paused longer than `timeouts.idle` before the
   * upstream answered. The upstream request is aborted only once that answer is out:
   * undici destroys the request body on abort, and with it the client's socket.
   */
  readonly answerBodyTimeout?: () => void;
  /** Called when the upstream answers with an open-ended body (no Content-Length: chunked, SSE). */
  readonly onOpenEndedResponse?: () => void;
  /** The whole body, already read (a form keygate inspected to its end); else it is streamed from `req`. */
  readonly body?: Buffer;
}

/**
 * Streams the request to the upstream and the response back, both ways with backpressure.
 * A client that goes away aborts the upstream request; an upstream that fails mid-body
 * ends the client's response by closing the connection (never a silent truncation).
 */
export async function forward(
  upstreams: Upstreams,
  dest: Destination,
  req: IncomingMessage,
  res: ServerResponse,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  if (dest.service.protocol !== 'http1') return forwardOverHttp2(upstreams, dest, req, res, opts);
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  // undici takes an EventEmitter as a signal: far cheaper per request than an AbortController.
  const abort = new EventEmitter();
  let clientGone = false;
  const onClose = (): void => {
    if (res.writableFinished) return;
    clientGone = true;
    abort.emit('abort');
  };
  res.once('close', onClose);
  const limiter = opts.bodyLimit === undefined ? undefined : new BodyLimit(opts.bodyLimit);
  let bodyTimedOut = false;
  const stopIdleWatch = hasBody(req)
    ? watchBodyIdle(req, dest.service.timeouts.idle, () => {
        bodyTimedOut = true;
        if (res.headersSent || !opts.answerBodyTimeout) return abort.emit('abort');
        opts.answerBodyTimeout();
        res.once('finish', () => abort.emit('abort'));
      })
    : undefined;
  let status: number | undefined;
  try {
    const upstream = await upstreams.poolFor(dest.service).request({
      origin: dest.service.upstream.origin,
      path: dest.upstreamPath,
      method: req.method as 'GET',
      headers: opts.headers,
      body: opts.body ?? requestBody(req, limiter),
      signal: abort,
      headersTimeout: dest.service.timeouts.response,
      bodyTimeout: dest.service.timeouts.idle,
    });
    status = upstream.statusCode;
    res.writeHead(status, clientResponseHeaders(upstream.headers, opts.requestId));
    if (upstream.headers['content-length'] === undefined) opts.onOpenEndedResponse?.();
    await relay(upstream.body, res);
    return { outcome: 'responded', status, upstreamMs: elapsed() };
  } catch (err) {
    if (limiter?.exceeded) return { outcome: 'body_too_large', upstreamMs: elapsed() };
    if (bodyTimedOut) return { outcome: 'body_timeout', upstreamMs: elapsed(), headersSent: res.headersSent };
    if (clientGone || req.errored) return { outcome: 'client_gone', upstreamMs: elapsed(), ...(status ? { status } : {}) };
    return { outcome: 'upstream_error', failure: upstreamFailure(err), upstreamMs: elapsed(), headersSent: res.headersSent };
  } finally {
    stopIdleWatch?.();
    res.off('close', onClose);
  }
}

/**
 * `protocol: h2 | grpc`. The body limit applies as over HTTP/1.1; `timeouts.idle` does not:
 * a gRPC stream may rightly stay quiet for long, and both ends bound it themselves.
 */
async function forwardOverHttp2(
  upstreams: Upstreams,
  dest: Destination,
  req: IncomingMessage,
  res: ServerResponse,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  const limiter = opts.bodyLimit === undefined ? undefined : new BodyLimit(opts.bodyLimit);
  const result = await forwardHttp2(upstreams, dest, req, res, opts, opts.body === undefined ? requestBody(req, limiter) : undefined);
  return limiter?.exceeded ? { outcome: 'body_too_large', upstreamMs: result.upstreamMs } : result;
}

/**
 * Copies the upstream body to the client with backpressure. Not `stream.pipeline`: it
 * allocates an AbortController per call and aborts it when done, which builds a
 * DOMException with a stack trace for every proxied request (about 5% of keygate's CPU).
 * Same failure handling: an upstream that fails mid-body destroys the client's response
 * (never a silent truncation); a client that goes away destroys the upstream body.
 */
function relay(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      res.off('finish', onFinish);
      res.off('close', onClose);
      if (!err) return resolve();
      body.unpipe(res);
      body.destroy();
      res.destroy(err);
      reject(err);
    };
    const onFinish = (): void => done();
    const onClose = (): void => done(res.writableFinished ? undefined : prematureClose());
    // The error listeners stay: a stream destroyed later still emits 'error', and an
    // unheard 'error' would crash the process.
    body.on('error', done);
    res.on('error', done);
    res.on('finish', onFinish);
    res.on('close', onClose);
    body.pipe(res);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('client closed the connection before the response ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function requestBody(req: IncomingMessage, limiter: BodyLimit | undefined): IncomingMessage | Transform | undefined {
  if (!hasBody(req)) return undefined;
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
