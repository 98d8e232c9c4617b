import type { AssertionSigner } from '../assertion/signer.js';
import type { KeyVerifier } from '../auth/verifier.js';
import type { Snapshot } from '../config/snapshot.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import type { LiveSessions } from './liveSessions.js';
import type { RequestObserver } from '../observability/requestRecord.js';
import type { Upstreams } from './upstreams.js';

/** What the request path needs from the running process; the current snapshot is read once per request. */
export interface ProxyRuntime {
  snapshot(): Snapshot;
  readonly verifier: KeyVerifier;
  readonly limiter: RateLimiter;
  readonly upstreams: Upstreams;
  readonly observer: RequestObserver;
  /** Signs (and caches) the identity assertions of services that send one. */
  readonly assertions: Pick<AssertionSigner, 'tokenFor'>;
  /** Upgraded connections and streamed responses, decided again on every reload and expiry. */
  readonly sessions: LiveSessions;
  now(): number;
  /** True once SIGTERM arrived: responses then ask clients to close their connection. */
  draining(): boolean;
}
