import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AssertionKeyRing } from '../assertion/keyRing.js';
import { AssertionSigner } from '../assertion/signer.js';
import { KeyVerifier } from '../auth/verifier.js';
import { BUILD_INFO } from '../buildInfo.js';
import { ConfigError } from '../reader/issues.js';
import type { LoadResult } from '../config/load.js';
import { sharedAsideLoader } from '../reload/asideLoader.js';
import { takeEarlyLoad } from './earlyLoad.js';
import { LoadingAdmin } from './loadingAdmin.js';
import type { Reloader, ReloadOutcome, ReloadTrigger } from '../reload/reloader.js';
import type { ListenAddress, Snapshot } from '../config/snapshot.js';
import { AccessLog } from '../observability/accessLog.js';
import { createLogger } from '../observability/logger.js';
import { stdoutSink, streamSink, type LogSink } from '../observability/logSink.js';
import { Metrics, UNUSED_DAYS, type MetricsOptions } from '../observability/metrics.js';
import { RequestObservations } from '../observability/observer.js';
import { adminHandler } from '../observability/admin.js';
import { handleCheckRequest } from '../check/handler.js';
import type { Listener } from '../proxy/listener.js';
import { openListener, type OpenedListener } from '../tls/secureListener.js';
import type { ServedCertificate } from '../tls/servedCertificate.js';
import { handleGrpcCheck } from '../grpc/handler.js';
import { GrpcListener } from '../grpc/server.js';
import { handleProxyRequest } from '../proxy/pipeline.js';
import type { ProxyRuntime } from '../proxy/runtime.js';
import type { OnBug } from '../proxy/opening.js';
import { handleUpgrade } from '../proxy/upgrade.js';
import { LiveSessions } from '../proxy/liveSessions.js';
import { Upstreams } from '../proxy/upstreams.js';
import { RateLimiter, type RateLimitEvents } from '../ratelimit/limiter.js';
import { sharedStoreFor } from '../ratelimit/sharedStore.js';
import { reportShadow, shadowState, startHotReload } from './hotReload.js';
import { startUsageTracking, type UsageTracking } from '../usage/tracking.js';
import type { KeyUse } from '../usage/keyUse.js';
import { takeCensus, type KeyCensus } from '../usage/unused.js';

export interface AppOptions {
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where pino writes (stdout by default); tests capture it. */
  readonly logDestination?: NodeJS.WritableStream;
  readonly now?: () => number;
  /** Replaces listen addresses (tests use port 0). */
  readonly listen?: Partial<Record<'proxy' | 'admin' | 'check' | 'grpc', ListenAddress>>;
  /** false: do not watch the config files (a `reload()`, e.g. on SIGHUP, still works). */
  readonly watch?: boolean;
  /** false: no admin listener (a `serve --workers` worker: the primary serves it). */
  readonly admin?: boolean;
  /** The event of the start-up line; a `serve --workers` worker says `worker_started` (the primary says `started`). */
  readonly startedEvent?: string;
  /** Where log lines go; takes precedence over `logDestination`. */
  readonly logSink?: LogSink;
}

type ListenerName = 'proxy' | 'admin' | 'check' | 'grpc';

/** What the shutdown sequence needs of a port, HTTP (Listener) or gRPC (GrpcListener). */
type Port = Pick<Listener, 'port' | 'host' | 'stopAccepting' | 'forceClose' | 'close'>;

/** The largest CheckRequest listen.grpc takes: Envoy's headers (limits.headers) with room to spare, never a body. */
const GRPC_MAX_MESSAGE = 1024 * 1024;

/**
 * One running keygate: the current snapshot, the listeners, and the shutdown sequence.
 * The only place where config, auth, policy, proxy and observability meet.
 */
export class KeygateApp {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly logSink: LogSink;
  private current: Snapshot;
  private readonly upstreams = new Upstreams();
  private readonly verifier = new KeyVerifier();
  /** The assertion signing keys; the JWKS keeps a replaced key's public half for one ttl. */
  readonly assertionKeys = new AssertionKeyRing();
  private readonly assertions = new AssertionSigner(this.assertionKeys);
  private limiter = new RateLimiter(undefined);
  private readonly listeners = new Map<ListenerName, Port>();
  /** The certificates of the TLS listeners, each following its files. */
  private readonly certificates: ServedCertificate[] = [];
  private readonly sessions: LiveSessions;
  private drainingSince: number | undefined;
  private stopping: Promise<void> | undefined;
  private reloader: Reloader | undefined;
  private usage: UsageTracking | undefined;

  private constructor(
    private readonly options: AppOptions,
    snapshot: Snapshot,
    private readonly early: LoadingAdmin | undefined,
  ) {
    this.current = snapshot;
    if (early) this.listeners.set('admin', early.listener); // closed with the others if start-up fails
    this.logSink = options.logSink ?? (options.logDestination ? streamSink(options.logDestination) : stdoutSink());
    this.logger = createLogger({
      level: snapshot.log.level,
      redactHeaders: snapshot.services.map((s) => s.serviceToken.header),
      destination: this.logSink,
    });
    this.metrics = new Metrics({
      build: BUILD_INFO,
      ...metricsSources(
        () => this.current,
        () => this.usage?.keeper?.view() ?? this.usage?.recorder.pending,
      ),
      perKeyLabels: snapshot.metrics.perKeyLabels,
      ...(options.now ? { now: options.now } : {}),
    });
    this.metrics.configLoaded(snapshot.generation);
    this.assertionKeys.update(snapshot.services, this.clock());
    this.sessions = new LiveSessions(
      () => this.current,
      options.now ?? Date.now,
      (r) => {
        this.metrics.connectionTerminated(r.reason, r.kind);
        this.logger.info({ event: 'connection_terminated', ...r }, 'closed a live connection whose key lost access');
      },
    );
  }

  /** Loads the config (throws ConfigError listing every problem) and opens the listeners. */
  static async start(options: AppOptions): Promise<KeygateApp> {
    const early = await LoadingAdmin.open(options.configFile, options.listen?.admin);
    let loaded: LoadResult;
    try {
      // In the load worker: the parse of a large keys file never grows this thread's heap.
      // `keygate serve` started it before importing this module (earlyLoad.ts).
      const env = options.env ?? process.env;
      loaded = await (takeEarlyLoad(options.configFile, env) ??
        sharedAsideLoader().load(options.configFile, { generation: 1, env, startup: true }));
    } catch (e) {
      await early?.listener.close();
      throw e;
    }
    if (!loaded.ok) {
      await early?.listener.close();
      throw new ConfigError(loaded.errors);
    }
    const app = new KeygateApp(options, loaded.snapshot, early);
    for (const w of loaded.warnings) app.logger.warn({ event: 'config_warning', file: w.file, line: w.line, col: w.col }, w.message);
    reportShadow(app.logger, loaded.snapshot);
    app.limiter = new RateLimiter(await sharedStoreFor(loaded.snapshot.rateLimits, app.logger), limitEvents(app.metrics));
    app.usage = await startUsageTracking(loaded.snapshot, app.logger, options.now ?? Date.now);
    try {
      await app.listen();
    } catch (e) {
      await app.closeListeners();
      await app.limiter.close();
      await app.usage.keeper?.close();
      throw e;
    }
    app.reloader = startHotReload(app, {
      configFile: options.configFile,
      env: options.env ?? process.env,
      sources: loaded.sources,
      metas: loaded.metas,
      ...(options.watch === false ? { watch: false } : {}),
    });
    app.logger.info(
      {
        event: options.startedEvent ?? 'started',
        version: BUILD_INFO.version,
        node: BUILD_INFO.node,
        generation: loaded.snapshot.generation,
        shadow: shadowState(loaded.snapshot),
        ...app.addresses(),
      },
      'keygate started',
    );
    return app;
  }

  snapshot(): Snapshot {
    return this.current;
  }

  private get clock(): () => number {
    return this.options.now ?? Date.now;
  }

  /** Loads the config files and TLS certificates again even if unchanged (SIGHUP); resolves once that reload is done. */
  async reload(trigger: ReloadTrigger = 'api'): Promise<ReloadOutcome> {
    await Promise.all(this.certificates.map((c) => c.check()));
    return this.reloader?.reload(trigger) ?? { result: 'closed', trigger };
  }

  /** Swaps in a new snapshot: requests already running keep the one they started with. */
  apply(next: Snapshot): void {
    this.current = next;
    this.assertionKeys.update(next.services, this.clock());
    this.upstreams.retain(next.services);
    this.sessions.recheck(next);
  }

  port(name: ListenerName): number {
    const l = this.listeners.get(name);
    if (!l) throw new Error(`listener ${name} is not open`);
    return l.port;
  }

  addresses(): Partial<Record<ListenerName, string>> {
    return Object.fromEntries([...this.listeners].map(([n, l]) => [n, `${l.host}:${l.port}`]));
  }

  isReady(): boolean {
    return this.drainingSince === undefined && this.listeners.has('proxy');
  }

  /**
   * SIGTERM: not ready at once; keep accepting for shutdown.delay (endpoint propagation);
   * then stop accepting and give in-flight requests shutdown.timeout; then close.
   */
  shutdown(reason = 'shutdown'): Promise<void> {
    this.stopping ??= this.drain(reason);
    return this.stopping;
  }

  private async drain(reason: string): Promise<void> {
    const { delay, timeout } = this.current.shutdown;
    this.drainingSince = Date.now();
    await this.reloader?.close();
    this.logger.info({ event: 'draining', reason, delayMs: delay, timeoutMs: timeout }, 'draining');
    if (delay > 0) await wait(delay);
    const traffic = [...this.listeners].filter(([n]) => n !== 'admin').map(([, l]) => l);
    const stopped = Promise.all(traffic.map((l) => l.stopAccepting()));
    const timedOut = await Promise.race([stopped.then(() => false), wait(timeout).then(() => true)]);
    if (timedOut) this.logger.warn({ event: 'drain_timeout' }, 'in-flight requests cut off at shutdown.timeout');
    traffic.forEach((l) => l.forceClose());
    await this.closeListeners();
    await this.upstreams.destroy();
    await this.limiter.close();
    await this.usage?.keeper?.close();
    this.logger.info({ event: 'stopped' }, 'keygate stopped');
  }

  private async listen(): Promise<void> {
    const s = this.current;
    const rt = this.runtime();
    // One for every request: the handlers take it instead of a `.catch` closure per request.
    const onBug: OnBug = (e, target) => this.bug(e, target);
    // Tests move a listener to port 0; its TLS settings stay the config's.
    const addr = (name: ListenerName, configured: ListenAddress): ListenAddress => ({ ...configured, ...this.options.listen?.[name] });
    await this.open('proxy', addr('proxy', s.listen.proxy), {
      maxHeaderSize: s.limits.headers,
      onRequest: (req, res) => handleProxyRequest(rt, req, res, onBug),
      onUpgrade: (req, socket, head) => void handleUpgrade(rt, req, socket, head).catch((e: unknown) => this.bug(e, socket)),
    });
    if (this.options.admin !== false) {
      const adminRoutes = adminHandler(
        this.metrics,
        () => this.isReady(),
        this.logger,
        () => JSON.stringify(this.assertionKeys.jwks(this.clock())),
      );
      if (this.early) this.adopt('admin', { listener: this.early.serve(adminRoutes), certificate: this.early.certificate });
      else await this.open('admin', addr('admin', s.listen.admin), { maxHeaderSize: 16 * 1024, onRequest: adminRoutes });
    }
    if (s.listen.check) {
      // The decision API (SPEC §6): opened only when `listen.check` is configured.
      const onRequest = (req: IncomingMessage, res: ServerResponse): void => handleCheckRequest(rt, req, res, onBug);
      await this.open('check', addr('check', s.listen.check), { maxHeaderSize: s.limits.headers, onRequest });
    }
    if (s.listen.grpc) await this.listenGrpc(addr('grpc', s.listen.grpc)!, rt);
  }

  /** Envoy's gRPC ext_authz and grpc.health.v1: opened only when `listen.grpc` is configured. */
  private async listenGrpc(address: ListenAddress, rt: ProxyRuntime): Promise<void> {
    const grpc = await GrpcListener.start({
      ...address,
      maxMessageBytes: Math.max(GRPC_MAX_MESSAGE, this.current.limits.headers * 2),
      onCheck: (msg, peer) => handleGrpcCheck(rt, msg, peer),
      serving: () => this.isReady(),
      onBug: (e) => this.logger.error({ event: 'internal_error', err: e }, 'gRPC check failed inside keygate'),
    });
    this.listeners.set('grpc', grpc);
  }

  private async open(name: ListenerName, address: ListenAddress, options: Parameters<typeof openListener>[2]): Promise<void> {
    this.adopt(name, await openListener(name, address, options));
  }

  /** Keeps an opened listener, and its certificate current (watched even without config watching: a worker's certs renew too). */
  private adopt(name: ListenerName, opened: OpenedListener): void {
    this.listeners.set(name, opened.listener);
    const certificate = opened.certificate;
    if (!certificate) return;
    this.certificates.push(certificate);
    const expiry = (listener: string, seconds: number): void => this.metrics.tlsCertificateExpiry(listener, seconds);
    certificate.serve(opened.listener, { logger: this.logger, expiry }, this.current.reload);
  }

  private runtime(): ProxyRuntime {
    return {
      snapshot: () => this.current,
      verifier: this.verifier,
      limiter: this.limiter,
      upstreams: this.upstreams,
      observer: new RequestObservations(this.metrics, new AccessLog(this.logSink), this.accessLogOn(), this.usage?.recorder),
      sessions: this.sessions,
      assertions: this.assertions,
      now: this.clock,
      draining: () => this.drainingSince !== undefined,
    };
  }

  /** `log.access` of the config in use, when the log level lets info lines through at all. */
  private accessLogOn(): () => boolean {
    const infoOn = this.logger.isLevelEnabled('info');
    return () => infoOn && this.current.log.access;
  }

  /** A thrown error on the request path is a bug: log it (never the request's headers) and fail closed. */
  private bug(e: unknown, target: { destroy(): void }): void {
    this.logger.error({ event: 'internal_error', err: e }, 'request failed inside keygate');
    target.destroy();
  }

  private async closeListeners(): Promise<void> {
    this.certificates.forEach((c) => c.close());
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    this.listeners.clear();
  }
}

function limitEvents(metrics: Metrics): RateLimitEvents {
  return {
    limited: (service, scope) => metrics.rateLimited(service, scope),
    backendError: () => metrics.rateLimitBackendError(),
    backendLatency: (seconds) => metrics.rateLimitBackendLatency(seconds),
  };
}

/** What `/metrics` reads at scrape time: key states, unused keys (from the key usage), generation, known key ids. */
export function metricsSources(
  current: () => Snapshot,
  usage?: () => ReadonlyMap<string, KeyUse> | undefined,
): Pick<MetricsOptions, 'keyStates' | 'unusedKeys' | 'generation' | 'isKnownKey'> {
  // Both gauges of one scrape share one pass over the keys (the same snapshot, the same second).
  let last: { snapshot: Snapshot; second: number; census: Promise<KeyCensus<(typeof UNUSED_DAYS)[number]>> } | undefined;
  const censusAt = (now: number): Promise<KeyCensus<(typeof UNUSED_DAYS)[number]>> => {
    const snapshot = current();
    const second = Math.floor(now / 1000);
    if (last?.snapshot !== snapshot || last.second !== second)
      last = { snapshot, second, census: takeCensus(snapshot, usage?.() ?? new Map(), now, UNUSED_DAYS) };
    return last.census;
  };
  return {
    keyStates: async (now) => (await censusAt(now)).states,
    unusedKeys: async (now) => (await censusAt(now)).unused,
    generation: () => current().generation,
    isKnownKey: (id) => current().keys.byId.has(id),
  };
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
