import type { Peer } from './harness.js';

/** What every scenario needs: the peers, the keys to present, and how long to run. */
export interface BenchContext {
  readonly quick: boolean;
  /** Rounds of every scenario (at least 3)... */
  readonly rounds: number;
  /** ...and of the small-GET ones, whose ratios are the headline. */
  readonly headlineRounds: number;
  readonly connections: number;
  /** The moderate, fixed request rate (requests/s) for latency scenarios. */
  readonly rate: number;
  readonly seconds: {
    readonly smallGet: number;
    readonly wrk: number;
    readonly transfer: number;
    readonly paced: number;
    readonly reloadWindow: number;
    readonly warmup: number;
  };
  readonly peers: {
    readonly bare: Peer;
    /** The same forwarder relaying bodies with stream.pipeline (issue 8's reference point). */
    readonly barePipeline?: Peer;
    readonly keygate: Peer;
    readonly keygateNoLog: Peer;
    readonly nginx?: Peer;
  };
  readonly keys: {
    /** A generated, restricted key (compute read /v2/*\/servers/**). */
    readonly reader: string;
    /** The demo `deploy` key (inherit): may POST to compute servers. */
    readonly writer: string;
    /** Well-formed, valid checksum, in no keys file. */
    readonly unknown: string;
  };
  readonly notes: string[];
}

export const PATHS = {
  small: '/v2/p1/servers/s1',
  big: '/v2/p1/servers/big',
  upload: '/v2/p1/servers/upload',
  /** Allowed for the user (role reader) but outside the restricted key's scope: 403. */
  outOfScope: '/v2/p1/images',
} as const;

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
