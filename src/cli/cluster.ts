import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError } from '../reader/issues.js';
import { AssertionKeyRing } from '../assertion/keyRing.js';
import { loadConfig } from '../config/load.js';
import type { Snapshot } from '../config/snapshot.js';
import { adminHandler } from '../observability/admin.js';
import { createLogger } from '../observability/logger.js';
import { stdoutSink } from '../observability/logSink.js';
import type { Listener } from '../proxy/listener.js';
import { tlsExpiryGauge } from '../observability/metrics.js';
import { openListener } from '../tls/secureListener.js';
import type { ServedCertificate } from '../tls/servedCertificate.js';
import { startHotReload } from './hotReload.js';
import { UsageError } from './io.js';

/**
 * `keygate serve --workers N`: a primary process and N workers (node:cluster). Every
 * worker serves the proxy and decision ports (the kernel's connections are shared out by
 * the primary); the primary alone serves the admin port, watches the config files, and
 * restarts workers that die:
 *   - `/metrics` aggregates every worker's registry (prom-client's AggregatorRegistry)
 *     plus the primary's own `keygate_worker_restarts_total` and `keygate_workers`;
 *   - `/readyz` is ready only while every worker is;
 *   - a change the primary's watcher loads successfully is sent to every worker, which
 *     reloads it; a failed load is sent nowhere, so every worker keeps the last good config;
 *   - SIGTERM/SIGINT: not ready at once, then every worker drains (shutdown.delay and
 *     shutdown.timeout each), then the primary exits 0; SIGHUP reloads.
 */

/** Messages between the primary and its workers (prom-client's own ride the same channel). */
export type WorkerMessage =
  | { readonly keygate: 'ready'; readonly addresses: Partial<Record<'proxy' | 'check', string>> }
  | { readonly keygate: 'reload' }
  /** The primary asks for a worker's metrics (registry JSON); the worker answers with the same id. */
  | { readonly keygate: 'metrics'; readonly id: number; readonly metrics?: unknown };

/** A worker that does not answer a metrics request in time is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2_000;

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { keygate?: unknown }).keygate === 'string';
}

/** `--workers`: a positive count, or `auto` for one per available core. */
export function workerCount(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--workers takes a count from 1 to 256 or "auto", not "${value}"`);
  return n;
}

/** Workers that die before they are ever ready this many times in a row: the primary gives up. */
const MAX_EARLY_DEATHS = 3;

interface WorkerState {
  ready: boolean;
  everReady: boolean;
}

export async function runPrimary(
  configFile: string,
  env: NodeJS.ProcessEnv,
  workers: number,
  err: (line: string) => void,
): Promise<number> {
  const loaded = loadConfig(configFile, { env });
  if (!loaded.ok) {
    err(`keygate: cannot start: ${new ConfigError(loaded.errors).message}`);
    return 1;
  }
  let current: Snapshot = loaded.snapshot;
  const logger = createLogger({
    level: current.log.level,
    redactHeaders: current.services.map((s) => s.serviceToken.header),
    destination: stdoutSink(),
  });
  const primary = new Primary(logger, workers);
  try {
    await primary.openAdmin(current);
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { address?: string; port?: number };
    err(
      `keygate: cannot start: ${error.code === 'EADDRINUSE' ? `address ${error.address}:${error.port} is already in use` : error.message}`,
    );
    return 1;
  }
  const reloader = startHotReload(
    {
      logger,
      metrics: { configReloaded: () => undefined },
      snapshot: () => current,
      apply: (next) => {
        current = next;
        primary.assertionKeys.update(next.services, Date.now());
        primary.broadcast({ keygate: 'reload' });
      },
    },
    { configFile, env, sources: loaded.sources },
  );
  const started = await primary.startWorkers();
  if (!started) {
    await reloader.close();
    await primary.stop(current);
    err('keygate: cannot start: workers exited before they were ready (see the log)');
    return 1;
  }
  logger.info({ event: 'started', generation: current.generation, workers, ...primary.addresses() }, 'keygate started');
  const onHup = (): void => void primary.recheckCertificate().then(() => reloader.reload('signal'));
  process.on('SIGHUP', onHup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.off('SIGHUP', onHup);
  logger.info({ event: 'draining', reason: signal, workers }, 'draining');
  await reloader.close();
  await primary.stop(current);
  logger.info({ event: 'stopped' }, 'keygate stopped');
  return 0;
}

class Primary {
  /** The workers sign with the same key files: the primary's admin port publishes their JWKS. */
  readonly assertionKeys = new AssertionKeyRing();
  readonly #registry = new Registry();
  readonly #pendingMetrics = new Map<number, (metrics: unknown) => void>();
  #nextMetricsId = 0;
  readonly #restarts: Counter<never>;
  readonly #states = new Map<Worker, WorkerState>();
  #addresses: Partial<Record<'proxy' | 'check', string>> = {};
  #admin: Listener | undefined;
  #adminCertificate: ServedCertificate | undefined;
  #stopping = false;
  #earlyDeaths = 0;
  #allReady: (() => void) | undefined;
  #gaveUp: (() => void) | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly size: number,
  ) {
    this.#restarts = new Counter({
      name: 'keygate_worker_restarts_total',
      help: 'Workers that died and were started again (serve --workers).',
      registers: [this.#registry],
    });
    const live = (): number => this.#states.size;
    new Gauge({
      name: 'keygate_workers',
      help: 'Worker processes running (serve --workers).',
      registers: [this.#registry],
      collect() {
        this.set(live());
      },
    });
  }

  async openAdmin(s: Snapshot): Promise<void> {
    this.assertionKeys.update(s.services, Date.now());
    const metrics = { contentType: this.#registry.contentType, metricsText: () => this.#allMetrics() };
    const opened = await openListener('admin', s.listen.admin, {
      maxHeaderSize: 16 * 1024,
      onRequest: adminHandler(
        metrics,
        () => this.isReady(),
        this.logger,
        () => JSON.stringify(this.assertionKeys.jwks(Date.now())),
      ),
    });
    this.#admin = opened.listener;
    this.#adminCertificate = opened.certificate;
    const expiry = tlsExpiryGauge(this.#registry);
    opened.certificate?.serve(opened.listener, { logger: this.logger, expiry: (listener, at) => expiry.set({ listener }, at) }, s.reload);
  }

  /** Forced reload (SIGHUP) of what the primary serves itself: the admin certificate. */
  async recheckCertificate(): Promise<void> {
    await this.#adminCertificate?.check();
  }

  addresses(): Record<string, string> {
    return { ...this.#addresses, ...(this.#admin ? { admin: `${this.#admin.host}:${this.#admin.port}` } : {}) };
  }

  isReady(): boolean {
    if (this.#stopping || this.#states.size < this.size) return false;
    for (const s of this.#states.values()) if (!s.ready) return false;
    return true;
  }

  /** Resolves true once every worker is ready, false if they keep dying before that. */
  startWorkers(): Promise<boolean> {
    cluster.on('message', (worker, message: unknown) => this.#onMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.#onExit(worker, code, signal));
    const done = new Promise<boolean>((resolve) => {
      this.#allReady = () => resolve(true);
      this.#gaveUp = () => resolve(false);
    });
    for (let i = 0; i < this.size; i++) this.#fork();
    return done;
  }

  broadcast(message: WorkerMessage): void {
    // A worker can die between isConnected() and send(): its exit handler replaces it, so the error is dropped here.
    for (const worker of this.#states.keys()) if (worker.isConnected()) worker.send(message, ignoreSendError);
  }

  /** Every worker drains (SIGTERM), bounded by the config's shutdown times; then the admin port closes. */
  async stop(s: Snapshot): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#states.keys()].map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
    );
    for (const w of this.#states.keys()) w.process.kill('SIGTERM');
    const limit = setTimeout(
      () => {
        for (const w of this.#states.keys()) if (!w.isDead()) w.process.kill('SIGKILL');
      },
      s.shutdown.delay + s.shutdown.timeout + 5_000,
    );
    await Promise.all(exits);
    clearTimeout(limit);
    this.#adminCertificate?.close();
    await this.#admin?.close();
  }

  /**
   * Every ready worker's registry, summed (AggregatorRegistry.aggregate, each metric by
   * its `aggregator`). Only ready workers are asked: one starting up or dying has no
   * registry to give, and must not hold the scrape up.
   */
  async #allMetrics(): Promise<string> {
    const asked = [...this.#states].filter(([w, s]) => s.ready && w.isConnected()).map(([w]) => this.#askMetrics(w));
    const answers = (await Promise.all(asked)).filter(
      (m): m is Parameters<typeof AggregatorRegistry.aggregate>[0][number] => m !== undefined,
    );
    // The primary's own series join the aggregation: a family both have (the TLS expiry) is written once.
    return AggregatorRegistry.aggregate([...answers, await this.#registry.getMetricsAsJSON()]).metrics();
  }

  #askMetrics(worker: Worker): Promise<unknown> {
    const id = this.#nextMetricsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pendingMetrics.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.#pendingMetrics.set(id, (metrics) => {
        clearTimeout(timer);
        this.#pendingMetrics.delete(id);
        resolve(metrics);
      });
      const ask: WorkerMessage = { keygate: 'metrics', id };
      // A worker dying mid-scrape closes its channel; without a callback that error would crash the primary.
      worker.send(ask, (err: Error | null) => {
        if (err === null) return;
        clearTimeout(timer);
        this.#pendingMetrics.delete(id);
        resolve(undefined);
      });
    });
  }

  #fork(): void {
    const worker = cluster.fork();
    // An IPC error on a dying worker must never take the primary down; its exit is handled on 'exit'.
    worker.on('error', (err: Error) =>
      this.logger.warn({ event: 'worker_error', pid: worker.process.pid, err: err.message }, 'worker IPC error'),
    );
    this.#states.set(worker, { ready: false, everReady: false });
  }

  #onMessage(worker: Worker, message: unknown): void {
    if (!isWorkerMessage(message)) return;
    if (message.keygate === 'metrics') {
      this.#pendingMetrics.get(message.id)?.(message.metrics);
      return;
    }
    if (message.keygate !== 'ready') return;
    const state = this.#states.get(worker);
    if (!state) return;
    state.ready = true;
    state.everReady = true;
    this.#earlyDeaths = 0;
    this.#addresses = message.addresses;
    if (this.isReady()) this.#allReady?.();
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    const state = this.#states.get(worker);
    this.#states.delete(worker);
    if (this.#stopping || !state) return;
    if (!state.everReady && ++this.#earlyDeaths >= MAX_EARLY_DEATHS) {
      this.logger.error(
        { event: 'worker_exited', pid: worker.process.pid, code, signal },
        'workers keep exiting before they are ready; giving up',
      );
      this.#gaveUp?.();
      return;
    }
    this.#restarts.inc();
    this.logger.warn({ event: 'worker_exited', pid: worker.process.pid, code, signal }, 'a worker exited; starting another');
    this.#fork();
  }
}

function ignoreSendError(): void {}
