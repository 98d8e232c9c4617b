/**
 * Upstream failures, classified once: the kind that metrics and the access log record,
 * and the answer the client gets for it (504 for a timeout, 502 for anything else).
 */
import type { UpstreamErrorKind } from '../observability/labels.js';

const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
// A connect timeout is a timeout: the client gets 504, as for `timeouts.response`.
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** One upstream failure: its kind, the reason the client is answered with, and the error's own code. */
export interface UpstreamFailure {
  readonly kind: UpstreamErrorKind;
  readonly reason: 'upstream_timeout' | 'upstream_failed';
  readonly code: string;
}

export function upstreamFailure(err: unknown): UpstreamFailure {
  const kind = upstreamErrorKind(err);
  return { kind, reason: kind === 'timeout' ? 'upstream_timeout' : 'upstream_failed', code: errorCode(err) };
}

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

/** The error's own code (or its cause's), for the access log. */
function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : 'UNKNOWN';
}
