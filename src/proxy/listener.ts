import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
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
  /** HTTPS with this certificate and key (and TLS settings); plain HTTP when absent. */
  readonly tls?: SecureContextOptions;
}

/** An HTTP listener with the limits and the orderly stop that every keygate port shares. */
export class Listener {
  /** Responses not yet finished: when the stop begins, each one still unsent is told to close. */
  private readonly open = new Set<ServerResponse>();
  /** Upgraded sockets (WebSockets) leave the HTTP server's books; a forced stop ends them too. */
  private readonly upgraded = new Set<Duplex>();
  private stopping = false;

  private constructor(private readonly server: Server) {}

  static async start(opts: ListenerOptions): Promise<Listener> {
    const http: ServerOptions = {
      maxHeaderSize: opts.maxHeaderSize,
      requestTimeout: 0, // bodies may stream for long; idle pauses are bounded per service
      headersTimeout: 30_000,
      keepAliveTimeout: 65_000, // longer than common client pools, so clients close first
    };
    const server: Server = opts.tls ? createHttpsServer({ ...http, ...opts.tls }) : createServer(http);
    const listener = new Listener(server);
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
    this.server.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
  }

  async close(): Promise<void> {
    const stopped = this.stopAccepting();
    this.forceClose();
    await stopped;
  }

  private tracked(handler: ListenerOptions['onRequest']): ListenerOptions['onRequest'] {
    return (req, res) => {
      this.open.add(res);
      if (this.stopping) res.setHeader('connection', 'close');
      res.once('close', () => {
        this.open.delete(res);
        // The connection turns idle only after this response: close it then, not at keepAliveTimeout.
        if (this.stopping) setImmediate(() => this.server.closeIdleConnections());
      });
      handler(req, res);
    };
  }
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
