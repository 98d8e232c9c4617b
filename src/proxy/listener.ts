import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
}

/** An HTTP listener with the limits and the orderly stop that every keygate port shares. */
export class Listener {
  private constructor(private readonly server: Server) {}

  static async start(opts: ListenerOptions): Promise<Listener> {
    const server = createServer({
      maxHeaderSize: opts.maxHeaderSize,
      requestTimeout: 0, // bodies may stream for long; idle pauses are bounded per service
      headersTimeout: 30_000,
      keepAliveTimeout: 65_000, // longer than common client pools, so clients close first
    });
    server.on('request', opts.onRequest);
    if (opts.onUpgrade) server.on('upgrade', opts.onUpgrade);
    server.on('clientError', answerClientError);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new Listener(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their response. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  forceClose(): void {
    this.server.closeAllConnections();
  }

  async close(): Promise<void> {
    const stopped = this.stopAccepting();
    this.forceClose();
    await stopped;
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
