import cluster from 'node:cluster';
import { ConfigError } from '../reader/issues.js';
import { stdoutSink } from '../observability/logSink.js';
import { CONFIG_OPTION, configPath, optionalString, parseCommand } from './args.js';
import { KeygateApp, type AppOptions } from './app.js';
import { isWorkerMessage, runPrimary, workerCount, type WorkerMessage } from './cluster.js';
import { EXIT, type CliIO } from './io.js';

export const serveHelp = 'keygate serve -c FILE [--workers N|auto]   run the proxy (SIGTERM/SIGINT drain and exit 0; SIGHUP reloads)';

/**
 * A worker's access lines go out in writes below PIPE_BUF (4 KiB), which the kernel
 * keeps whole: workers sharing one stdout pipe never interleave inside a line.
 */
const WORKER_BATCH_BYTES = 2048;

/** Runs until SIGTERM or SIGINT, then drains and resolves 0; refuses to start (1) on a bad config or busy port. */
export async function runServe(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, workers: { type: 'string' } });
  const configFile = configPath(args, io);
  const workers = workerCount(optionalString(args, 'workers'));
  if (cluster.isWorker) return runWorker(configFile, io);
  if (workers > 1) return runPrimary(configFile, io.env, workers, io.err);
  const hangups = holdHangups();
  const app = await startOrExplain(configFile, io);
  const running = app ? waitForSignals(app, undefined, hangups.seen) : Promise.resolve(EXIT.failed);
  hangups.release(); // only now: between two listeners a SIGHUP would get its fatal default
  return running;
}

/**
 * SIGHUP's default action ends the process: catch it from the very start, so one sent
 * while the config is still loading is not fatal; it becomes a reload once running.
 */
function holdHangups(): { seen: boolean; release(): void } {
  const held = { seen: false, release: () => process.off('SIGHUP', onHup) };
  const onHup = (): void => {
    held.seen = true;
  };
  process.on('SIGHUP', onHup);
  return held;
}

/**
 * One worker of `serve --workers N`: the proxy and decision ports (shared through the
 * primary), no admin port and no file watcher; reloads when the primary says so, drains
 * on SIGTERM, answers the primary's metrics requests with its registry's JSON.
 */
async function runWorker(configFile: string, io: CliIO): Promise<number> {
  const hangups = holdHangups();
  const app = await startOrExplain(configFile, io, {
    watch: false,
    admin: false,
    startedEvent: 'worker_started',
    logSink: stdoutSink(WORKER_BATCH_BYTES),
  });
  hangups.release();
  if (!app) return EXIT.failed;
  process.on('message', (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    if (m.keygate === 'reload') void app.reload('api');
    if (m.keygate === 'metrics') {
      void app.metrics.registry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ keygate: 'metrics', id: m.id, metrics } satisfies WorkerMessage));
    }
  });
  const { proxy, check } = app.addresses();
  const ready: WorkerMessage = { keygate: 'ready', addresses: { ...(proxy ? { proxy } : {}), ...(check ? { check } : {}) } };
  process.send?.(ready);
  // The IPC channel would keep a drained worker alive: let go of it once drained.
  return waitForSignals(app, async () => process.disconnect?.(), hangups.seen);
}

export async function startOrExplain(
  configFile: string,
  io: CliIO,
  options: Omit<AppOptions, 'configFile' | 'env'> = {},
): Promise<KeygateApp | undefined> {
  try {
    return await KeygateApp.start({ configFile, env: io.env, ...options });
  } catch (e) {
    io.err(`keygate: cannot start: ${describeStartError(e)}`);
    return undefined;
  }
}

function describeStartError(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err.code === 'EADDRINUSE') return `address ${err.address}:${err.port} is already in use`;
  if (err.code === 'EACCES') return `no permission to listen on ${err.address}:${err.port}`;
  return err.message ?? String(e);
}

/** SIGTERM/SIGINT drain and resolve 0; SIGHUP reloads the config files (`hangupSeen`: one arrived during start-up). */
export function waitForSignals(app: KeygateApp, onStop?: () => Promise<void>, hangupSeen = false): Promise<number> {
  const reload = (): void => void app.reload('signal');
  process.on('SIGHUP', reload);
  if (hangupSeen) reload();
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGHUP', reload);
      void app.shutdown(signal).then(async () => {
        await onStop?.();
        resolve(EXIT.ok);
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
