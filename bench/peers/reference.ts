import type { Child } from '../lib/child.js';

/** A C or Go proxy doing keygate's job in its own dialect (nginx, HAProxy, Caddy): the floor to compare with. */
export interface ReferencePeer {
  readonly child: Child;
  /** http://127.0.0.1:PORT; the compute service sits under /compute as in keygate's example config. */
  readonly url: string;
  /** Every process of the peer (nginx master and worker): its CPU is theirs together. */
  pids(): number[];
  stop(): Promise<void>;
}

/** What each reference peer gets: the same upstream, keys, and service token as keygate. */
export interface ReferenceSetup {
  readonly binary: string;
  readonly upstreamPort: number;
  /** Every key string that must be let through (all belong to user joe). */
  readonly keys: readonly string[];
  readonly serviceToken: string;
}
