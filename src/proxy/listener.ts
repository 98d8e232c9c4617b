import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createSecureServer, type SecureServerOptions } from 'node:http2';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { asHttp1Shape, isHttp2 } from './http2Shape.js';
import { rawProblem } from './problem.js';
import { randomUUID } from 'node:crypto';

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxHeaderSize: number;
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  readonly onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * `Expect: 100-continue` requests; `onRequest` when omitted. Never Node's default, which
   * sends `100 Continue` before keygate has decided anything.
   */
  readonly onCheckContinue?: (req: IncomingMessage, res: ServerResponse) => void;
  /** HTTPS (ALPN h2 and http/1.1) with this certificate and key; plain HTTP/1.1 when absent. */
  readonly tls?: SecureContextOptions;
  /** With `tls`: ask clients for a certificate (checked against `tls.ca`); `require`: refuse handshakes without a valid one. */
  readonly clientCert?: 'request' | 'require';
}

/** Streams one HTTP/2 connection may have open at once (nginx's default is 128). */
const MAX_CONCURRENT_STREAMS = 128;

/** An HTTP listener with the limits and the orderly stop that every keygate port shares. */
export class Listener {
  /** Responses not yet finished: when the stop begins, each one still unsent is told to close. */
  private readonly open = new Set<ServerResponse>();
  /** Upgraded sockets (WebSockets) leave the HTTP server's books; a forced stop ends them too. */
  private readonly upgraded = new Set<Duplex>();
  /** TLS connections (HTTP/1.1 and HTTP/2), which the HTTP/2 server has no closeAllConnections for. */
  private readonly secure = new Set<TLSSocket>();
  private stopping = false;

  private constructor(private readonly server: Server) {}

  static async start(opts: ListenerOptions): Promise<Listener> {
    const http: ServerOptions = {
      maxHeaderSize: opts.maxHeaderSize,
      requestTimeout: 0, // bodies may stream for long; idle pauses are bounded per service
      headersTimeout: 30_000,
      keepAliveTimeout: 65_000, // longer than common client pools, so clients close first
    };
    const server = opts.tls ? secureServer(http, opts.tls, opts.maxHeaderSize, opts.clientCert) : createServer(http);
    const listener = new Listener(server);
    if (opts.tls) {
      server.on('secureConnection', (socket: TLSSocket) => {
        listener.secure.add(socket);
        socket.once('close', () => listener.secure.delete(socket));
      });
    }
    const onRequest = listener.tracked(opts.onRequest);
    server.on('request', onRequest);
    // Without this listener Node answers `Expect: 100-continue` itself, before keygate has
    // decided: a client would then send its body to a request about to get 401/403/413.
    // The pipeline writes the 100 once the request is allowed.
    server.on('checkContinue', opts.onCheckContinue ? listener.tracked(opts.onCheckContinue) : onRequest);
    const onUpgrade = opts.onUpgrade;
    if (onUpgrade) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        listener.upgraded.add(socket);
        socket.once('close', () => listener.upgraded.delete(socket));
        onUpgrade(req, socket, head);
      });
    }
    server.on('clientError', answerClientError);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  /** Serves a new certificate to new handshakes; open connections keep theirs. Plain HTTP: nothing to do. */
  setSecureContext(options: SecureContextOptions): void {
    const tls = this.server as Server & { setSecureContext?: (o: SecureContextOptions) => void };
    tls.setSecureContext?.(options);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  /**
   * Stop accepting; idle keep-alive connections close now, busy ones once their response
   * is done (responses not yet started say `Connection: close`), so a keep-alive client
   * cannot hold the drain open until shutdown.timeout.
   */
  stopAccepting(): Promise<void> {
    this.stopping = true;
    for (const res of this.open) if (!res.headersSent) res.setHeader('connection', 'close');
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  forceClose(): void {
    if (typeof this.server.closeAllConnections === 'function') this.server.closeAllConnections();
    for (const socket of this.secure) socket.destroy();
    for (const socket of this.upgraded) socket.destroy();
  }

  async close(): Promise<void> {
    const stopped = this.stopAccepting();
    this.forceClose();
    await stopped;
  }

  /**
   * One 'close' listener shared by every response (a response closes once): a closure
   * and a `once` wrapper per request cost more than the bookkeeping itself.
   */
  private readonly responseClosed = ((listener: Listener) =>
    function (this: ServerResponse): void {
      listener.open.delete(this);
      // The connection turns idle only after this response: close it then, not at keepAliveTimeout.
      if (listener.stopping) setImmediate(() => listener.server.closeIdleConnections());
    })(this);

  private tracked(handler: ListenerOptions['onRequest']): ListenerOptions['onRequest'] {
    return (req, res) => {
      this.open.add(res);
      if (this.stopping) res.setHeader('connection', 'close');
      if (isHttp2(req)) asHttp1Shape(req);
      res.on('close', this.responseClosed);
      handler(req, res);
    };
  }
}

/**
 * HTTPS that speaks HTTP/2 and HTTP/1.1 (ALPN `h2`, `http/1.1`): node:http2's secure server
 * with allowHTTP1, which runs node:http's own HTTP/1.1 server for the second (the same
 * options, events and limits). Its HTTP/2 requests come through the compatibility API,
 * shaped like node:http's (http2Shape.ts): one handler, one pipeline for both. Typed as
 * node:http's server for that reason: the events and methods the Listener uses exist on both.
 */
function secureServer(
  http: ServerOptions,
  tls: SecureContextOptions,
  maxHeaderSize: number,
  clientCert: ListenerOptions['clientCert'],
): Server {
  const options: SecureServerOptions & ServerOptions = {
    ...http,
    ...tls,
    ...(clientCert ? { requestCert: true, rejectUnauthorized: clientCert === 'require' } : {}),
    allowHTTP1: true,
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: maxHeaderSize },
  };
  return createSecureServer(options) as unknown as Server;
}

/** Malformed requests and oversized headers get a problem document, not Node's bare 400/431. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_target';
  const detail = reason === 'headers_too_large' ? 'request headers larger than limits.headers' : 'malformed HTTP request';
  socket.end(rawProblem(reason, randomUUID(), detail));
}
