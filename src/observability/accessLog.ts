import type { Reason } from '../errors.js';
import { pathWithoutQuery } from './serializers.js';
import type { Decision, Mode } from './metrics.js';

/** Everything the pipeline knows about one finished request. */
export interface AccessInput {
  readonly requestId: string;
  readonly mode: Mode;
  readonly method: string;
  /** The raw request target (proxy) or original URI (check); the query is cut here. */
  readonly target: string;
  readonly clientIp: string;
  readonly service?: string;
  /** The verified key; for a denial before verification, only the presented `keyId` may be known. */
  readonly key?: { readonly id: string; readonly name: string; readonly user: string };
  readonly keyId?: string;
  readonly decision: Decision;
  /** The precise reason code, not the one the client sees. */
  readonly reason: Reason;
  readonly status: number;
  readonly decisionMs?: number;
  readonly upstreamMs?: number;
  readonly totalMs: number;
}

/** One access line. Field names are stable: log pipelines and alerts key on them. */
export interface AccessLogEntry {
  request_id: string;
  mode: Mode;
  method: string;
  path: string;
  client_ip: string;
  service: string | null;
  key_id: string | null;
  key_name: string | null;
  user: string | null;
  decision: Decision;
  reason: Reason;
  status: number;
  decision_ms: number | null;
  upstream_ms: number | null;
  total_ms: number;
}

export const ACCESS_LOG_MESSAGE = 'request';

/** A check request's method comes from a header (`X-Original-Method`): bound it. */
const MAX_METHOD_LENGTH = 32;

/**
 * Builds the access record: log it with `logger.info(accessLogEntry(x), ACCESS_LOG_MESSAGE)`.
 * Missing parts are `null` rather than absent, so every line has the same fields.
 */
export function accessLogEntry(input: AccessInput): AccessLogEntry {
  return {
    request_id: input.requestId,
    mode: input.mode,
    method: input.method.slice(0, MAX_METHOD_LENGTH),
    path: pathWithoutQuery(input.target),
    client_ip: input.clientIp,
    service: input.service ?? null,
    key_id: input.key?.id ?? input.keyId ?? null,
    key_name: input.key?.name ?? null,
    user: input.key?.user ?? null,
    decision: input.decision,
    reason: input.reason,
    status: input.status,
    decision_ms: roundMs(input.decisionMs),
    upstream_ms: roundMs(input.upstreamMs),
    total_ms: roundMs(input.totalMs) ?? 0,
  };
}

/** Microsecond precision is plenty and keeps lines short. */
function roundMs(ms: number | undefined): number | null {
  return ms === undefined || !Number.isFinite(ms) ? null : Math.round(ms * 1000) / 1000;
}
