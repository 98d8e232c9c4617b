import type { IncomingMessage } from 'node:http';
import type { Snapshot } from '../config/snapshot.js';
import { statusOf } from '../errors.js';
import { requestIdFrom } from '../observability/requestId.js';
import { checkAccess, type AccessOutcome, type Denied, type InboundRequest } from './access.js';
import { clientAddress } from './clientIp.js';
import { finishedRecord, loggablePath, type RecordEnd, type RequestRecord } from './record.js';
import type { ProxyRuntime } from './runtime.js';

export type { AccessOutcome, Allowed, Denied } from './access.js';

/** What every entry point needs to decide a request: the runtime minus the upstream pools. */
export type DecisionRuntime = Pick<ProxyRuntime, 'snapshot' | 'verifier' | 'limiter' | 'observer' | 'now' | 'draining'>;

/** The client's request as an entry point read it (the decision API reads it from its dialect's headers). */
export interface RequestTarget {
  readonly method: string;
  /** The raw request target, route prefix and query included. */
  readonly target: string;
  readonly host: string | undefined;
  /** false: the front proxy cannot remove request headers on keygate's word (nginx, Traefik). */
  readonly removesHeaders?: boolean;
}

/** An entry point's reading of the request: a target to decide, or why there is none (answered 400). */
export type TargetRead = { readonly ok: true; readonly original: RequestTarget } | { readonly ok: false; readonly detail: string };

export interface OpenedRequest {
  readonly requestId: string;
  readonly snapshot: Snapshot;
  readonly inbound: InboundRequest;
  readonly outcome: AccessOutcome;
  /** Reports the request, once, with how it ended (nothing more: it ended as decided). */
  readonly finish: (end?: RecordEnd) => void;
  /** The client address decided on (through trustedProxies). */
  readonly clientIp: string;
}

/**
 * The opening every request shares, proxied, upgraded or asked about on the decision API:
 * pin the snapshot (a reload mid-request never changes its rules), decide, and prepare
 * its record. `read` is the request as the proxy sees it unless the entry point says otherwise.
 */
export async function openRequest(rt: DecisionRuntime, req: IncomingMessage, mode: RequestRecord['mode'], read: TargetRead = asProxied(req)): Promise<OpenedRequest> {
  const started = performance.now();
  const requestId = requestIdFrom(req.headers['x-request-id']);
  const snapshot = rt.snapshot();
  const inbound = inboundOf(req, read, snapshot.listen.trustedProxies, mode);
  const done = rt.observer.started(mode);
  const outcome = read.ok ? await checkAccess(snapshot, rt, inbound, rt.now()) : unreadable(read.detail);
  const base = baseRecord(outcome, inbound, requestId, performance.now() - started, mode);
  return { requestId, snapshot, inbound, outcome, finish: (end) => done(finishedRecord(base, performance.now() - started, end)), clientIp: inbound.clientIp };
}

function asProxied(req: IncomingMessage): TargetRead {
  return { ok: true, original: { method: req.method ?? 'GET', target: req.url ?? '', host: req.headers.host } };
}

function inboundOf(req: IncomingMessage, read: TargetRead, trusted: Snapshot['listen']['trustedProxies'], mode: RequestRecord['mode']): InboundRequest {
  const original = read.ok ? read.original : undefined;
  return {
    method: original?.method ?? req.method ?? 'GET',
    target: original?.target ?? '',
    host: original?.host,
    headers: req.headersDistinct,
    rawHeaders: req.rawHeaders,
    mode,
    removesHeaders: original?.removesHeaders ?? true,
    clientIp: clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted),
  };
}

function unreadable(detail: string): Denied {
  return { allow: false, reason: 'bad_target', step: 0, detail, destination: undefined, keyId: undefined, key: undefined, rule: undefined, limits: undefined };
}

/**
 * A plain literal of fixed shape (absent parts `undefined`), not conditional spreads:
 * it is built on every request and read by `finishedRecord` right after.
 */
function baseRecord(outcome: AccessOutcome, inbound: InboundRequest, requestId: string, decisionMs: number, mode: RequestRecord['mode']): Omit<RequestRecord, 'totalMs'> {
  const key = outcome.key;
  const denied = outcome.allow ? undefined : outcome;
  return {
    mode,
    requestId,
    method: inbound.method,
    path: loggablePath(inbound.target),
    service: outcome.destination?.service.name || undefined,
    keyId: key ? key.id : denied?.keyId || undefined,
    keyName: key?.name,
    user: key?.user,
    decision: denied ? 'deny' : 'allow',
    reason: denied ? denied.reason : 'allow',
    detail: denied?.detail,
    step: denied?.step,
    status: denied ? statusOf(denied.reason) : 200,
    clientIp: inbound.clientIp,
    decisionMs,
  };
}
