import { ConfigError } from '../reader/issues.js';
import { CONFIG_OPTION, configPath, parseCommand } from './args.js';
import { KeygateApp } from './app.js';
import { EXIT, type CliIO } from './io.js';

export const serveHelp = 'keygate serve -c FILE   run the proxy (SIGTERM/SIGINT drain and exit 0; SIGHUP reloads)';

/** Runs until SIGTERM or SIGINT, then drains and resolves 0; refuses to start (1) on a bad config or busy port. */
export async function runServe(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, CONFIG_OPTION);
  const hangups = holdHangups();
  const app = await startOrExplain(configPath(args, io), io);
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

export async function startOrExplain(configFile: string, io: CliIO): Promise<KeygateApp | undefined> {
  try {
    return await KeygateApp.start({ configFile, env: io.env });
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
