import cluster from 'node:cluster';
import { resolve } from 'node:path';
import type { LoadResult } from '../config/load.js';
import { sharedAsideLoader } from '../reload/asideLoader.js';
import { CONFIG_OPTION, configPath, optionalString, parseCommand } from './args.js';
import { processIO } from './io.js';

/*
 * `keygate serve` starts its first config load before the rest of keygate is imported
 * (bin/keygate.js imports this module first, the commands after). Node takes about
 * 0.7 s on a busy machine to load the serving code (gRPC, protobuf, JOSE, the HTTP
 * client...), and the load worker reads and validates the keys on another core
 * meanwhile, instead of after. The app takes the load over when it starts with the
 * same config file and environment; any other run drops it.
 */

interface EarlyLoad {
  readonly file: string;
  readonly env: NodeJS.ProcessEnv;
  readonly result: Promise<LoadResult>;
  readonly abort: AbortController;
}

let early: EarlyLoad | undefined;

/** Starts the first load for `serve` (one process, or a `--workers` worker); anything else starts nothing. */
export function startEarlyLoad(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const file = serveConfigFile(argv, env);
  if (file === undefined) return;
  const abort = new AbortController();
  const result = sharedAsideLoader().load(file, { generation: 1, env, signal: abort.signal, startup: true });
  result.catch(() => undefined); // the app sees the failure when it takes the load; a dropped one is nobody's
  early = { file: resolve(file), env, result, abort };
}

/** The early load if it is of this config file and environment (each taken once); else undefined, and it is stopped. */
export function takeEarlyLoad(configFile: string, env: NodeJS.ProcessEnv): Promise<LoadResult> | undefined {
  const load = early;
  early = undefined;
  if (!load) return undefined;
  if (load.file === resolve(configFile) && load.env === env) return load.result;
  load.abort.abort();
  return undefined;
}

/** Stops an early load nobody took (the command failed before starting the app): its worker must not keep the process alive. */
export function dropEarlyLoad(): void {
  early?.abort.abort();
  early = undefined;
}

/**
 * The config file `serve` will load, read as runServe reads it; undefined for other
 * commands, for bad arguments (serve reports them) and for a `--workers` primary
 * (which loads in its own thread: cluster.ts).
 */
function serveConfigFile(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  if (argv[0] !== 'serve') return undefined;
  try {
    const args = parseCommand(argv.slice(1), { ...CONFIG_OPTION, workers: { type: 'string' } });
    const workers = optionalString(args, 'workers');
    if (cluster.isPrimary && workers !== undefined && workers !== '1') return undefined;
    return configPath(args, { ...processIO, env });
  } catch {
    return undefined;
  }
}
