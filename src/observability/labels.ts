/**
 * Label hygiene: every label value keygate exports comes from a small, fixed set.
 * A request path, a header value or anything else a client controls never becomes
 * a label value, because each distinct value is a new time series in Prometheus.
 */

/** RFC 9110 section 9 methods plus PATCH (RFC 5789). Methods are case-sensitive. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
]);

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';

/** Any other method (including `get`, which is not `GET`) is counted as `other`. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** `none` when no service matched (e.g. `no_route`, or a bad target rejected before routing). */
export function serviceLabel(service: string | undefined | null): string {
  return service ? service : 'none';
}

export function statusClass(status: number): StatusClass {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  if (status >= 200) return '2xx';
  return '1xx';
}

const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
]);
// A connect timeout is a timeout: the client gets 504, as for `timeouts.response`.
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT',
]);
const RESET_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

/**
 * Classifies an upstream failure (undici or node:net error) by its `code`, looking
 * through `cause` chains and AggregateErrors (happy-eyeballs connect attempts).
 */
export function upstreamErrorKind(err: unknown): UpstreamErrorKind {
  const codes = errorCodes(err, 0);
  if (codes.some((c) => CONNECT_CODES.has(c))) return 'connect';
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (codes.some((c) => RESET_CODES.has(c))) return 'reset';
  return 'other';
}

function errorCodes(err: unknown, depth: number): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const own = 'code' in err && typeof err.code === 'string' ? [err.code] : [];
  const cause = 'cause' in err ? errorCodes(err.cause, depth + 1) : [];
  const nested = err instanceof AggregateError ? err.errors.flatMap((e: unknown) => errorCodes(e, depth + 1)) : [];
  return [...own, ...cause, ...nested];
}
