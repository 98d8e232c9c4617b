import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Reason } from '../errors.js';
import { methodLabel, serviceLabel, statusClass, type UpstreamErrorKind } from './labels.js';
import type { Decision, Mode, RequestRecord } from './requestRecord.js';
import { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './series.js';

export type { Decision, Mode } from './requestRecord.js';
export type ReloadResult = 'success' | 'failure';

/** `keygate_keys{state}`: every state is always exported, 0 when no key is in it. */
export const KEY_STATES = ['active', 'rotation_due', 'disabled', 'expired', 'not_yet_valid', 'orphaned'] as const;
export type KeyStateCounts = Record<(typeof KEY_STATES)[number], number>;
/** `keygate_keys_unused{days}`: working keys without an allowed use for this many days. */
export const UNUSED_DAYS = [30, 90] as const;
export type UnusedKeyCounts = Record<(typeof UNUSED_DAYS)[number], number>;

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
   * The key states of the config in use at `now`, read at scrape time for
   * `keygate_keys{state}`, so keys move to `expired` without a reload.
   */
  readonly keyStates?: (now: number) => KeyStateCounts | Promise<KeyStateCounts> | undefined;
  /** Working keys without an allowed use for 30 and 90 days, counted at scrape time from the usage state. */
  readonly unusedKeys?: (now: number) => UnusedKeyCounts | Promise<UnusedKeyCounts> | undefined;
  /** The generation of the config in use, read at scrape time. */
  readonly generation?: () => number | undefined;
  /** Whether a key id exists in the config in use: only those become per-key labels. */
  readonly isKnownKey?: (keyId: string) => boolean;
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

/** The series one kind of request lands in, found once per request by one composed key. */
interface RequestSeries {
  readonly requests: CounterSeries;
  /** Created with the first valid duration, so impossible ones leave no empty series behind. */
  duration: HistogramSeries | undefined;
}

/**
 * One Prometheus registry per keygate instance (never prom-client's global one, so
 * several instances can share a process). Every method is safe on the hot path: it
 * never throws and never creates a label value outside a fixed set. The per-request
 * series are keygate's own (series.ts): a request costs a Map lookup and a few additions.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #now: () => number;
  readonly #keyStatesOf: MetricsOptions['keyStates'];
  readonly #unusedOf: MetricsOptions['unusedKeys'];
  readonly #generationOf: MetricsOptions['generation'];
  readonly #isKnownKey: (keyId: string) => boolean;
  readonly #requests: FastCounter;
  readonly #requestDuration: FastHistogram;
  readonly #decision: HistogramSeries;
  readonly #upstreamDuration: FastHistogram;
  readonly #upstreamErrors: FastCounter;
  readonly #keyRequests: FastCounter | undefined;
  readonly #shadowDisagreements: FastCounter;
  readonly #bySeriesKey = new Map<string, RequestSeries>();
  #inFlight = 0;
  readonly #terminated: Counter<'reason' | 'kind'>;
  readonly #reloads: Counter<'result'>;
  readonly #lastReloadSuccess: Gauge<never>;
  readonly #lastReloadOk: Gauge<never>;
  readonly #generation: Gauge<never>;
  readonly #keys: Gauge<'state'>;
  readonly #rateLimited: Counter<'service' | 'scope'>;
  readonly #rateLimitErrors: Counter<never>;
  readonly #rateLimitLatency: Histogram<never>;
  readonly #tlsExpiry: Gauge<'listener'>;

  constructor(options: MetricsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#keyStatesOf = options.keyStates;
    this.#unusedOf = options.unusedKeys;
    this.#generationOf = options.generation;
    this.#isKnownKey = options.isKnownKey ?? (() => true);
    const registers = [this.registry];
    this.#requests = this.#register(
      new FastCounter(
        'keygate_requests_total',
        'Requests answered, by service, method, decision, precise reason code and mode (proxy or check).',
        ['service', 'method', 'decision', 'reason', 'mode'],
      ),
    );
    this.#requestDuration = this.#register(
      new FastHistogram(
        'keygate_request_duration_seconds',
        'Time from request received to response finished (proxy) or answered (check).',
        ['service', 'decision', 'mode'],
        REQUEST_BUCKETS,
      ),
    );
    const decision = this.#register(
      new FastHistogram(
        'keygate_decision_duration_seconds',
        'Time of the authentication and authorization step alone.',
        [],
        DECISION_BUCKETS,
      ),
    );
    this.#decision = decision.seriesFor('', () => ({}));
    this.#upstreamDuration = this.#register(
      new FastHistogram(
        'keygate_upstream_duration_seconds',
        'Time from forwarding a request to the upstream response headers, by upstream status class.',
        ['service', 'status_class'],
        REQUEST_BUCKETS,
      ),
    );
    this.#upstreamErrors = this.#register(
      new FastCounter(
        'keygate_upstream_errors_total',
        'Upstream requests that failed without a response, by kind (connect, timeout, reset, other).',
        ['service', 'kind'],
      ),
    );
    this.#shadowDisagreements = this.#register(
      new FastCounter(
        'keygate_shadow_disagreements_total',
        'Requests the keygate.yaml shadow candidate would have answered differently, by service and both answers (allow or deny).',
        ['service', 'live', 'shadow'],
      ),
    );
    this.#terminated = new Counter({
      name: 'keygate_connections_terminated_total',
      help: 'Upgraded connections and streamed responses closed because their key lost access (reload or expiry), by reason and kind (upgrade, stream).',
      labelNames: ['reason', 'kind'],
      registers,
    });
    const inFlight = (): number => this.#inFlight;
    new Gauge({
      name: 'keygate_requests_in_flight',
      help: 'Requests currently being handled (proxy and check).',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.#reloads = new Counter({
      name: 'keygate_config_reloads_total',
      help: 'Config reload attempts by result; a failed reload keeps the last good config serving.',
      labelNames: ['result'],
      registers,
      aggregator: 'max', // serve --workers: every worker reloads each change once
    });
    this.#lastReloadSuccess = new Gauge({
      name: 'keygate_config_last_reload_success_timestamp_seconds',
      help: 'When the config in use was loaded (start-up or last successful reload), in Unix seconds.',
      registers,
      aggregator: 'max',
    });
    this.#lastReloadOk = new Gauge({
      name: 'keygate_config_last_reload_successful',
      help: '1 if the last config load or reload succeeded, 0 if it failed (the previous config still serves).',
      registers,
      aggregator: 'min',
    });
    this.#generation = new Gauge({
      name: 'keygate_config_generation',
      help: 'Generation number of the config in use; increases with every successful reload.',
      registers,
      aggregator: 'min', // serve --workers: the generation every worker serves
      collect: () => this.#collectGeneration(),
    });
    this.#keys = new Gauge({
      name: 'keygate_keys',
      help: 'Keys in the config by state, evaluated at scrape time.',
      labelNames: ['state'],
      registers,
      aggregator: 'max',
      collect: async () => this.#collectKeys(),
    });
    const unusedOf = async (now: number): Promise<UnusedKeyCounts | undefined> => this.#unusedOf?.(now);
    const clock = this.#now;
    new Gauge({
      name: 'keygate_keys_unused',
      help: 'Working keys with no allowed request for `days` days (never-used keys count from their creation), from the key-usage state at scrape time.',
      labelNames: ['days'],
      registers,
      aggregator: 'min', // serve --workers: the worker that saw the most uses knows best
      async collect() {
        const counts = await unusedOf(clock());
        if (counts) for (const days of UNUSED_DAYS) this.set({ days: String(days) }, counts[days]);
      },
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
    this.#tlsExpiry = tlsExpiryGauge(this.registry);
    this.#keyRequests = options.perKeyLabels
      ? this.#register(
          new FastCounter(
            'keygate_key_requests_total',
            'Requests by key id and decision (metrics.perKeyLabels; one series per key: mind the cardinality).',
            ['key_id', 'decision'],
          ),
        )
      : undefined;
    const build = options.build ?? { version: 'unknown', node: process.version };
    new Gauge({
      name: 'keygate_build_info',
      help: 'Always 1; the labels say which keygate version runs on which Node.js.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: build.version, node: build.node }, 1);
    this.#reloads.inc({ result: 'success' }, 0);
    this.#reloads.inc({ result: 'failure' }, 0);
    this.setKeyStates({ active: 0, rotation_due: 0, disabled: 0, expired: 0, not_yet_valid: 0, orphaned: 0 });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Content-Type of `metricsText()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** A live connection was closed because its key lost access. */
  connectionTerminated(reason: string, kind: string): void {
    this.#terminated.inc({ reason, kind });
  }

  /** The certificate a TLS listener serves now expires at `seconds` (since the epoch). */
  tlsCertificateExpiry(listener: string, seconds: number): void {
    this.#tlsExpiry.set({ listener }, seconds);
  }

  /** Counts a request in flight; the returned function ends it (calling it again does nothing). */
  requestStarted(): () => void {
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
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

  /** The hot path's `requestStarted`: no handle; `record()` ends it. */
  requestArrived(): void {
    this.#inFlight++;
  }

  /**
   * One finished request, from its record: ends its in-flight count, counts it, and
   * observes its duration, decision time and upstream answer or error. The hot path.
   */
  record(r: RequestRecord): void {
    this.#inFlight--;
    this.#finished(r.service, r.method, r.decision, r.reason, r.mode, r.keyId, r.totalMs / 1000);
    this.#decision.observe(r.decisionMs / 1000);
    if (r.shadow !== undefined) this.shadowDisagreed(r.service, r.shadow.live, r.shadow.decision);
    if (r.service === undefined) return;
    if (r.upstreamStatus !== undefined && r.upstreamMs !== undefined)
      this.upstreamFinished(r.service, r.upstreamStatus, r.upstreamMs / 1000);
    if (r.upstreamError !== undefined) this.upstreamError(r.service, r.upstreamError);
  }

  /** Call once per request, when its response has finished (or the check was answered). */
  requestFinished(labels: RequestLabels, seconds: number): void {
    this.#finished(labels.service, labels.method, labels.decision, labels.reason, labels.mode, labels.keyId, seconds);
  }

  /** The authn + authz step alone (credential parsing, hashing, the 7 decision steps). */
  decisionTime(seconds: number): void {
    this.#decision.observe(seconds);
  }

  /** The upstream answered with `status` after `seconds` (time to response headers). */
  upstreamFinished(service: string, status: number, seconds: number): void {
    if (!validSeconds(seconds)) return;
    const cls = statusClass(status);
    this.#upstreamDuration.seriesFor(`${service}|${cls}`, () => ({ service, status_class: cls })).observe(seconds);
  }

  /** The shadow candidate answered `shadow` where the live config answered `live`. */
  shadowDisagreed(service: string | undefined, live: Decision, shadow: Decision): void {
    const s = serviceLabel(service);
    this.#shadowDisagreements.seriesFor(`${s}|${live}|${shadow}`, () => ({ service: s, live, shadow })).value++;
  }

  /** The upstream failed without a response; classify errors with `upstreamErrorKind`. */
  upstreamError(service: string, kind: UpstreamErrorKind): void {
    this.#upstreamErrors.seriesFor(`${service}|${kind}`, () => ({ service, kind })).value++;
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

  /** Sets `keygate_keys{state}`; with a `keyStates` option the scrape-time count replaces it. */
  setKeyStates(counts: KeyStateCounts): void {
    for (const state of KEY_STATES) this.#keys.set({ state }, counts[state]);
  }

  #finished(
    service: string | undefined,
    method: string,
    decision: Decision,
    reason: Reason,
    mode: Mode,
    keyId: string | undefined,
    seconds: number,
  ): void {
    const s = serviceLabel(service);
    const m = methodLabel(method);
    const key = `${mode}|${s}|${m}|${decision}|${reason}`;
    let series = this.#bySeriesKey.get(key);
    if (series === undefined) {
      series = { requests: this.#requests.seriesFor(key, () => ({ service: s, method: m, decision, reason, mode })), duration: undefined };
      this.#bySeriesKey.set(key, series);
    }
    series.requests.value++;
    if (validSeconds(seconds))
      (series.duration ??= this.#requestDuration.seriesFor(`${mode}|${s}|${decision}`, () => ({ service: s, decision, mode }))).observe(
        seconds,
      );
    if (this.#keyRequests && keyId !== undefined && this.#isKnownKey(keyId)) {
      this.#keyRequests.seriesFor(`${keyId}|${decision}`, () => ({ key_id: keyId, decision })).value++;
    }
  }

  #register<M extends FastCounter | FastHistogram>(metric: M): M {
    this.registry.registerMetric(metric as unknown as Metric);
    return metric;
  }

  #markLoaded(generation: number | undefined): void {
    this.#lastReloadOk.set(1);
    this.#lastReloadSuccess.set(this.#now() / 1000);
    if (generation !== undefined) this.#generation.set(generation);
  }

  #collectGeneration(): void {
    const generation = this.#generationOf?.();
    if (generation !== undefined) this.#generation.set(generation);
  }

  async #collectKeys(): Promise<void> {
    const counts = await this.#keyStatesOf?.(this.#now());
    if (counts) this.setKeyStates(counts);
  }
}

function validSeconds(seconds: number): boolean {
  return seconds >= 0 && seconds !== Infinity;
}

/**
 * `keygate_tls_cert_expiry_timestamp_seconds{listener}`: the notAfter of the certificate each
 * TLS listener serves. Across `serve --workers` the earliest wins, so a worker still serving
 * an old certificate is the one the alert sees.
 */
export function tlsExpiryGauge(registry: Registry): Gauge<'listener'> {
  return new Gauge({
    name: 'keygate_tls_cert_expiry_timestamp_seconds',
    help: 'When the certificate each TLS listener serves expires (notAfter, seconds since the epoch).',
    labelNames: ['listener'],
    registers: [registry],
    aggregator: 'min',
  });
}
