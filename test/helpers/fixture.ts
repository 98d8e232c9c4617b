import { afterAll, beforeAll } from 'vitest';
import { tempConfig, type TempConfig } from './config.js';
import { startKeygate, type RunningKeygate } from './keygate.js';
import { startUpstream, type TestUpstream, type UpstreamHandler } from './upstream.js';

/** A suite's real servers: a recording upstream, a temp copy of config/ aimed at it, and keygate. */
export interface KeygateFixture {
  readonly upstream: TestUpstream;
  readonly cfg: TempConfig;
  readonly kg: RunningKeygate;
}

export interface FixtureOptions {
  /** Edits keygate.yaml; `origin` is the upstream's. */
  readonly edit?: (main: string, origin: string) => string;
  readonly handler?: UpstreamHandler;
  /** Changes other files of the temp config before keygate starts. */
  readonly prepare?: (cfg: TempConfig) => void;
}

/** Starts the three before the suite and closes all of them after it (also when a start failed). */
export function useKeygate(options: FixtureOptions = {}): KeygateFixture {
  const parts: { upstream?: TestUpstream; cfg?: TempConfig; kg?: RunningKeygate } = {};
  beforeAll(async () => {
    const upstream = (parts.upstream = await startUpstream(options.handler));
    const edit = options.edit;
    parts.cfg = tempConfig(upstream.origin, edit ? (main) => edit(main, upstream.origin) : undefined);
    options.prepare?.(parts.cfg);
    parts.kg = await startKeygate(parts.cfg.mainFile);
  });
  afterAll(async () => {
    await parts.kg?.close();
    await parts.upstream?.close();
    parts.cfg?.cleanup();
  });
  const started = <K extends keyof typeof parts>(name: K): NonNullable<(typeof parts)[K]> => {
    const part = parts[name];
    if (!part) throw new Error(`the fixture's ${name} is used before beforeAll ran`);
    return part;
  };
  return {
    get upstream() { return started('upstream'); },
    get cfg() { return started('cfg'); },
    get kg() { return started('kg'); },
  };
}
