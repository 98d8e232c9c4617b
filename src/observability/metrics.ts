import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Snapshot } from '../config/snapshot.js';
import type { Reason } from '../errors.js';
import { countKeyStates, emptyKeyStateCounts, KEY_STATES, type KeyStateCounts } from './keyStates.js';
import { methodLabel, serviceLabel, statusClass, type UpstreamErrorKind } from './labels.js';

export type Decision = 'allow' | 'deny';
/** `proxy`: the reverse proxy port; `check`: the decision API (ext_authz, auth_request, ForwardAuth). */
export type Mode = 'proxy' | 'check';
export type ReloadResult = 'success' | 'failure';

export interface RequestLabels {
  /** A configured service name; `undefined` when no service matched (exported as `none`). */
  readonly service: string | undefined;
  /** The request method as received; anything but the RFC 9110 methods and PATCH is `other`. */
  readonly method: string;
  readonly decision: Decision;
  /** The precise reason (e.g. `bad_secret`, not the client's `invalid_key`). */
  readonly reason: Reason;
  readonly mode: Mode;
  /** Only read when per-key labels are on; only an id that exists in the config is ever exported. */
  readonly keyId?: string;
}

export interface MetricsOptions {
  /**
   * The current config, read at scrape time for `keygate_keys{state}` and
   * `keygate_config_generation`, so keys move to `expired` without a reload.
   */
  readonly snapshot?: () => Snapshot | undefined;
  /**
   * Adds `keygate_key_requests_total{key_id,decision}`. CARDINALITY WARNING: one
   * series per key and decision; fine for tens or hundreds of keys, costly for
   * many thousands. Read once here: changing `metrics.perKeyLabels` needs a restart.
   */
  readonly perKeyLabels?: boolean;
  /** prom-client's `process_*` and `nodejs_*` metrics; default true. */
  readonly defaultMetrics?: boolean;
  /** Epoch milliseconds; injectable for tests. */
  readonly now?: () => number;
  /** Exported as `keygate_build_info{version,node} 1`. */
  readonly build?: { readonly version: string; readonly node: string };
}

/** Web-request latencies: 1 ms to 60 s. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** The decision is microseconds for a cached or fast hash; a legacy KDF run reaches tens of ms. */
const DECISION_BUCKETS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * One Prometheus registry per keygate instance (never prom-client's global one, so
 * several instances can share a process). Every method is safe on the hot path: it
 * never throws and never creates a label value outside a fixed set.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #snapshot: (() => Snapshot | undefined) | undefined;
  readonly #now: () => number;
  readonly #requests: Counter<'service' | 'method' | 'decision' | 'reason' | 'mode'>;
  readonly #requestDuration: Histogram<'service' | 'decision' | 'mode'>;
  readonly #decisionDuration: Histogram<never>;
  readonly #upstreamDuration: Histogram<'service' | 'status_class'>;
  readonly #upstreamErrors: Counter<'service' | 'kind'>;
  readonly #terminated: Counter<'reason' | 'kind'>;
  readonly #inFlight: Gauge<never>;
  readonly #reloads: Counter<'result'>;
  readonly #lastReloadSuccess: Gauge<never>;
  readonly #lastReloadOk: Gauge<never>;
  readonly #generation: Gauge<never>;
  readonly #keys: Gauge<'state'>;
  readonly #keyRequests: Counter<'key_id' | 'decision'> | undefined;
  readonly #rateLimited: Counter<'service' | 'scope'>;
  readonly #rateLimitErrors: Counter<never>;
  readonly #rateLimitLatency: Histogram<never>;

  constructor(options: MetricsOptions = {}) {
    this.#snapshot = options.snapshot;
    this.#now = options.now ?? Date.now;
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'keygate_requests_total',
      help: 'Requests answered, by service, method, decision, precise reason code and mode (proxy or check).',
      labelNames: ['service', 'method', 'decision', 'reason', 'mode'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: 'keygate_request_duration_seconds',
      help: 'Time from request received to response finished (proxy) or answered (check).',
      labelNames: ['service', 'decision', 'mode'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#decisionDuration = new Histogram({
      name: 'keygate_decision_duration_seconds',
      help: 'Time of the authentication and authorization step alone.',
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.#upstreamDuration = new Histogram({
      name: 'keygate_upstream_duration_seconds',
      help: 'Time from forwarding a request to the upstream response headers, by upstream status class.',
      labelNames: ['service', 'status_class'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#upstreamErrors = new Counter({
      name: 'keygate_upstream_errors_total',
      help: 'Upstream requests that failed without a response, by kind (connect, timeout, reset, other).',
      labelNames: ['service', 'kind'],
      registers,
    });
    this.#terminated = new Counter({
      name: 'keygate_connections_terminated_total',
      help: 'Upgraded connections and streamed responses closed because their key lost access (reload or expiry), by reason and kind (upgrade, stream).',
      labelNames: ['reason', 'kind'],
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'keygate_requests_in_flight',
      help: 'Requests currently being handled (proxy and check).',
      registers,
    });
    this.#reloads = new Counter({
      name: 'keygate_config_reloads_total',
      help: 'Config reload attempts by result; a failed reload keeps the last good config serving.',
      labelNames: ['result'],
      registers,
    });
    this.#lastReloadSuccess = new Gauge({
      name: 'keygate_config_last_reload_success_timestamp_seconds',
      help: 'When the config in use was loaded (start-up or last successful reload), in Unix seconds.',
      registers,
    });
    this.#lastReloadOk = new Gauge({
      name: 'keygate_config_last_reload_successful',
      help: '1 if the last config load or reload succeeded, 0 if it failed (the previous config still serves).',
      registers,
    });
    this.#generation = new Gauge({
      name: 'keygate_config_generation',
      help: 'Generation number of the config in use; increases with every successful reload.',
      registers,
      collect: () => this.#collectGeneration(),
    });
    this.#keys = new Gauge({
      name: 'keygate_keys',
      help: 'Keys in the config by state, evaluated at scrape time.',
      labelNames: ['state'],
      registers,
      collect: () => this.#collectKeys(),
    });
    this.#rateLimited = new Counter({
      name: 'keygate_rate_limited_total',
      help: 'Requests refused by a rate limit, by service and scope (key, user, or address for failed authentications).',
      labelNames: ['service', 'scope'],
      registers,
    });
    this.#rateLimitErrors = new Counter({
      name: 'keygate_ratelimit_backend_errors_total',
      help: 'Rate-limit store (Redis) calls that failed or timed out; rateLimiting.redis.onError then decided.',
      registers,
    });
    this.#rateLimitLatency = new Histogram({
      name: 'keygate_ratelimit_backend_latency_seconds',
      help: 'Time of one rate-limit store (Redis) call that answered.',
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.#keyRequests = options.perKeyLabels ? perKeyCounter(this.registry) : undefined;
    const build = options.build ?? { version: 'unknown', node: process.version };
    new Gauge({
      name: 'keygate_build_info',
      help: 'Always 1; the labels say which keygate version runs on which Node.js.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: build.version, node: build.node }, 1);
    this.#reloads.inc({ result: 'success' }, 0);
    this.#reloads.inc({ result: 'failure' }, 0);
    this.setKeyStates(emptyKeyStateCounts());
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Content-Type of `metricsText()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** Call once per request, when its response has finished (or the check was answered). */
  requestFinished(labels: RequestLabels, seconds: number): void {
    const service = serviceLabel(labels.service);
    const { decision, reason, mode } = labels;
    this.#requests.inc({ service, method: methodLabel(labels.method), decision, reason, mode });
    if (validSeconds(seconds)) this.#requestDuration.observe({ service, decision, mode }, seconds);
    if (this.#keyRequests && labels.keyId !== undefined && this.#isKnownKey(labels.keyId)) {
      this.#keyRequests.inc({ key_id: labels.keyId, decision });
    }
  }

  /** The authn + authz step alone (credential parsing, hashing, the 7 decision steps). */
  decisionTime(seconds: number): void {
    if (validSeconds(seconds)) this.#decisionDuration.observe(seconds);
  }

  /** The upstream answered with `status` after `seconds` (time to response headers). */
  upstreamFinished(service: string, status: number, seconds: number): void {
    if (validSeconds(seconds)) this.#upstreamDuration.observe({ service, status_class: statusClass(status) }, seconds);
  }

  /** The upstream failed without a response; classified by `proxy/upstreamError.ts`. */
  upstreamError(service: string, kind: UpstreamErrorKind): void {
    this.#upstreamErrors.inc({ service, kind });
  }

  /** A live connection was closed because its key lost access. */
  connectionTerminated(reason: string, kind: string): void {
    this.#terminated.inc({ reason, kind });
  }

  /** Counts a request in flight; the returned function ends it (calling it again does nothing). */
  requestStarted(): () => void {
    this.#inFlight.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight.dec();
    };
  }

  /** A request refused by a rate limit; `scope`: key, user or address. */
  rateLimited(service: string | undefined, scope: 'key' | 'user' | 'address'): void {
    this.#rateLimited.inc({ service: serviceLabel(service), scope });
  }

  rateLimitBackendError(): void {
    this.#rateLimitErrors.inc();
  }

  rateLimitBackendLatency(seconds: number): void {
    if (validSeconds(seconds)) this.#rateLimitLatency.observe(seconds);
  }

  /** The config loaded at start-up: sets the timestamp and generation without counting a reload. */
  configLoaded(generation: number): void {
    this.#markLoaded(generation);
  }

  /** A hot reload finished; on failure the previous config (and its generation) stays. */
  configReloaded(result: ReloadResult, generation?: number): void {
    this.#reloads.inc({ result });
    if (result === 'failure') this.#lastReloadOk.set(0);
    else this.#markLoaded(generation);
  }

  /** Sets `keygate_keys{state}`; with a `snapshot` option the scrape-time count replaces it. */
  setKeyStates(counts: KeyStateCounts): void {
    for (const state of KEY_STATES) this.#keys.set({ state }, counts[state]);
  }

  #markLoaded(generation: number | undefined): void {
    this.#lastReloadOk.set(1);
    this.#lastReloadSuccess.set(this.#now() / 1000);
    if (generation !== undefined) this.#generation.set(generation);
  }

  #collectGeneration(): void {
    const snapshot = this.#snapshot?.();
    if (snapshot) this.#generation.set(snapshot.generation);
  }

  #collectKeys(): void {
    const snapshot = this.#snapshot?.();
    if (snapshot) this.setKeyStates(countKeyStates(snapshot, this.#now()));
  }

  /** A presented key id is client input: only ids present in the config become labels. */
  #isKnownKey(keyId: string): boolean {
    const snapshot = this.#snapshot?.();
    return snapshot ? snapshot.keys.byId.has(keyId) : true;
  }
}

function perKeyCounter(registry: Registry): Counter<'key_id' | 'decision'> {
  return new Counter({
    name: 'keygate_key_requests_total',
    help: 'Requests by key id and decision (metrics.perKeyLabels; one series per key: mind the cardinality).',
    labelNames: ['key_id', 'decision'],
    registers: [registry],
  });
}

function validSeconds(seconds: number): boolean {
  return Number.isFinite(seconds) && seconds >= 0;
}
