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

export interface StartedKeygate extends KeygateFixture {
  /** Closes keygate, then the upstream, then removes the temp config. */
  close(): Promise<void>;
}

/** Starts the three now, for a test that needs its own. */
export async function startStack(options: FixtureOptions = {}): Promise<StartedKeygate> {
  const upstream = await startUpstream(options.handler);
  const edit = options.edit;
  const cfg = tempConfig(upstream.origin, edit ? (main) => edit(main, upstream.origin) : undefined);
  try {
    options.prepare?.(cfg);
    const kg = await startKeygate(cfg.mainFile);
    return {
      upstream,
      cfg,
      kg,
      close: async () => {
        await kg.close();
        await upstream.close();
        cfg.cleanup();
      },
    };
  } catch (e) {
    await upstream.close();
    cfg.cleanup();
    throw e;
  }
}

/** Starts the three before the suite and closes all of them after it. */
export function useKeygate(options: FixtureOptions = {}): KeygateFixture {
  let stack: StartedKeygate | undefined;
  beforeAll(async () => {
    stack = await startStack(options);
  });
  afterAll(async () => {
    await stack?.close();
  });
  const started = (): StartedKeygate => {
    if (!stack) throw new Error('the fixture is used before beforeAll ran');
    return stack;
  };
  return {
    get upstream() {
      return started().upstream;
    },
    get cfg() {
      return started().cfg;
    },
    get kg() {
      return started().kg;
    },
  };
}
