import type { Reason } from '../errors.js';
import type { UpstreamErrorKind } from './labels.js';
import { pathWithoutQuery } from './serializers.js';

export type Decision = 'allow' | 'deny';

/** A shadow candidate's different answer (proxy/shadow.ts ShadowVerdict). */
export interface ShadowRecord {
  readonly live: Decision;
  readonly decision: Decision;
  readonly reason: Reason;
  readonly rule: string | undefined;
}
/** `proxy`: the reverse proxy port; `check`: the decision API (ext_authz, auth_request, ForwardAuth). */
export type Mode = 'proxy' | 'check';

/** Longer paths are cut in the record (and so in the access line): one request cannot flood the log. */
const MAX_LOGGED_PATH = 1024;
export const MAX_LOGGED_HOST = 255;

/**
 * One request from socket to log line: created when it arrives, filled in place as it
 * goes (decision, upstream answer, end), and handed once to the observer, which turns it
 * into metrics and the access line. Every field exists from the start (absent parts
 * `undefined`), so every record has one shape.
 */
export class RequestRecord {
  /** The Host the request named (the decision API: the original one), bounded; replay routes by it. */
  host: string | undefined = undefined;
  service: string | undefined = undefined;
  keyId: string | undefined = undefined;
  keyName: string | undefined = undefined;
  user: string | undefined = undefined;
  decision: Decision = 'allow';
  /** The precise reason, never collapsed (`bad_secret`, not the client's `invalid_key`). */
  reason: Reason = 'allow';
  detail: string | undefined = undefined;
  step: number | undefined = undefined;
  status = 200;
  decisionMs = 0;
  upstreamMs: number | undefined = undefined;
  upstreamStatus: number | undefined = undefined;
  upstreamError: UpstreamErrorKind | undefined = undefined;
  upstreamErrorCode: string | undefined = undefined;
  totalMs = 0;
  /** What keygate.yaml `shadow` would have answered, only where it differs from the live answer. */
  shadow: ShadowRecord | undefined = undefined;
  /** Without the query string (it may carry `?api_key=`) or fragment, bounded. */
  readonly path: string;
  /** performance.now() when the request arrived. */
  readonly started = performance.now();

  constructor(
    readonly mode: Mode,
    readonly requestId: string,
    public method: string,
    target: string,
    readonly clientIp: string,
  ) {
    this.path = pathWithoutQuery(target, MAX_LOGGED_PATH);
  }

  /** Milliseconds since the request arrived. */
  elapsedMs(): number {
    return performance.now() - this.started;
  }
}

/** How the request path reports to observability; the proxy itself knows no logger or registry. */
export interface RequestObserver {
  /** A request arrived (counted in flight until `finished`). */
  started(): void;
  /** Called exactly once per `started`, with the completed record. */
  finished(record: RequestRecord): void;
}

export const NO_OBSERVER: RequestObserver = { started: () => undefined, finished: () => undefined };
