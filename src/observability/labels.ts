/**
 * Label hygiene: every label value keygate exports comes from a small, fixed set.
 * A request path, a header value or anything else a client controls never becomes
 * a label value, because each distinct value is a new time series in Prometheus.
 */

/** RFC 9110 section 9 methods plus PATCH (RFC 5789). Methods are case-sensitive. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
/** How an upstream failed; `proxy/upstreamError.ts` classifies errors into these. */
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
