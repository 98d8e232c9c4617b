import type { Reason } from '../errors.js';
import type { UpstreamErrorKind } from '../observability/labels.js';

/** Everything known about one finished request: the access log line and the metrics come from it. */
export interface RequestRecord {
  readonly mode: 'proxy' | 'check';
  readonly requestId: string;
  readonly method: string;
  readonly path: string; // without the query string
  readonly service?: string;
  readonly keyId?: string;
  readonly keyName?: string;
  readonly user?: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: Reason; // the precise reason, never collapsed
  readonly detail?: string;
  readonly step?: number;
  readonly status: number;
  readonly clientIp: string;
  readonly decisionMs: number;
  readonly upstreamMs?: number;
  readonly upstreamStatus?: number;
  readonly upstreamError?: UpstreamErrorKind;
  readonly upstreamErrorCode?: string;
  readonly totalMs: number;
}

/** How the request path reports to observability; the proxy itself knows no logger or registry. */
export interface RequestObserver {
  /** Called when a request arrives; the returned function is called once with its record. */
  started(mode: RequestRecord['mode']): (record: RequestRecord) => void;
}

export const NO_OBSERVER: RequestObserver = { started: () => () => undefined };

/** The path of a raw target, without its query, bounded so a log line stays small. */
export function loggablePath(target: string | undefined): string {
  const raw = target ?? '';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  return path.length > 1024 ? `${path.slice(0, 1024)}…` : path;
}
