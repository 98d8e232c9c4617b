import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE, loadServices, MALFORMED } from './protos.js';
import type { CheckRequestMessage } from './checkRequest.js';
import type { CheckAnswer } from './handler.js';

export interface GrpcListenerOptions {
  readonly host: string;
  readonly port: number;
  /** Largest CheckRequest accepted; a larger one is RESOURCE_EXHAUSTED from grpc-js. */
  readonly maxMessageBytes: number;
  readonly onCheck: (msg: CheckRequestMessage, peer: string) => Promise<CheckAnswer>;
  /** SERVING while true (grpc.health.v1). */
  readonly serving: () => boolean;
  /** A thrown error on the decision path: logged by the caller; the call gets INTERNAL. */
  readonly onBug: (e: unknown) => void;
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const SERVING = 1;
const NOT_SERVING = 2;
/** Watch's answer for a name it does not know (Check answers NOT_FOUND). */
const SERVICE_UNKNOWN = 3;
/** The health service names it knows: the server as a whole (''), and the Authorization service. */
const HEALTH_NAMES = new Set(['', AUTHORIZATION_SERVICE]);

type HealthRequest = { readonly service?: string };
type HealthResponse = { readonly status: number };

/**
 * `listen.grpc`: Envoy's gRPC ext_authz (envoy.service.auth.v3.Authorization/Check) and
 * the standard grpc.health.v1.Health, on one HTTP/2 port (@grpc/grpc-js). Stops like the
 * HTTP listeners: health turns NOT_SERVING, then no new calls, then the rest are cut.
 */
type Watchers = Set<ServerWritableStream<HealthRequest, HealthResponse>>;

export class GrpcListener {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly watchers: Watchers,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(opts: GrpcListenerOptions): Promise<GrpcListener> {
    const services = loadServices();
    const server = new Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    const watchers: Watchers = new Set();
    server.addService(services.authorization, {
      Check: (call: ServerUnaryCall<CheckRequestMessage, unknown>, done: sendUnaryData<unknown>) => check(opts, call, done),
    });
    server.addService(services.health, {
      Check: (call: ServerUnaryCall<HealthRequest, HealthResponse>, done: sendUnaryData<HealthResponse>) => {
        if (!HEALTH_NAMES.has(call.request.service ?? '')) return done({ code: status.NOT_FOUND, details: 'unknown service' });
        done(null, { status: opts.serving() ? SERVING : NOT_SERVING });
      },
      Watch: (call: ServerWritableStream<HealthRequest, HealthResponse>) => watch(opts, watchers, call),
    });
    const address = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(listenError(err, opts)) : resolve(bound),
      ),
    );
    return new GrpcListener(server, watchers, opts.host, port);
  }

  /** Health says NOT_SERVING to every watcher, then no new calls; resolves once the calls in flight are done. */
  stopAccepting(): Promise<void> {
    this.stopping ??= new Promise((resolve) => {
      for (const w of this.watchers) {
        w.write({ status: NOT_SERVING });
        w.end();
      }
      this.watchers.clear();
      this.server.tryShutdown(() => resolve());
    });
    return this.stopping;
  }

  /** Cuts the calls still running; never waits (the drain's timeout already has). */
  forceClose(): void {
    this.server.forceShutdown();
  }

  async close(): Promise<void> {
    void this.stopAccepting();
    this.forceClose();
  }
}

/** Watch: the status now, then NOT_SERVING when keygate drains (stopAccepting ends every watch). */
function watch(opts: GrpcListenerOptions, watchers: Watchers, call: ServerWritableStream<HealthRequest, HealthResponse>): void {
  const known = HEALTH_NAMES.has(call.request.service ?? '');
  call.write({ status: !known ? SERVICE_UNKNOWN : opts.serving() ? SERVING : NOT_SERVING });
  watchers.add(call);
  call.on('cancelled', () => watchers.delete(call));
}

function check(opts: GrpcListenerOptions, call: ServerUnaryCall<CheckRequestMessage, unknown>, done: sendUnaryData<unknown>): void {
  if (MALFORMED in call.request) {
    done({ code: status.INVALID_ARGUMENT, details: 'the CheckRequest does not decode' });
    return;
  }
  opts.onCheck(call.request, call.getPeer()).then(
    (answer) => {
      // Past its deadline grpc-js has already answered DEADLINE_EXCEEDED (or the caller left).
      if (call.cancelled) return;
      if ('invalid' in answer) done({ code: status.INVALID_ARGUMENT, details: answer.invalid });
      else done(null, answer.response);
    },
    (e: unknown) => {
      opts.onBug(e);
      if (!call.cancelled) done({ code: status.INTERNAL, details: 'internal error' });
    },
  );
}

/** grpc-js says only "No address added out of total 1 resolved": name the address like the HTTP listeners' errors. */
function listenError(err: Error, opts: GrpcListenerOptions): Error {
  return Object.assign(new Error(`cannot listen on ${opts.host}:${opts.port} (listen.grpc): ${err.message}`), {
    code: /in use/i.test(err.message) ? 'EADDRINUSE' : undefined,
    address: opts.host,
    port: opts.port,
  });
}
