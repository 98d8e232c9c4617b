import type { IncomingMessage } from 'node:http';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { headersOnceEach, type Identity, type SignedAssertion } from './headers.js';
import { statusOf } from '../errors.js';
import { requestIdFrom } from '../observability/requestId.js';
import { checkAccess, type AccessOutcome, type Denied, type InboundRequest } from './access.js';
import { clientAddress } from './clientIp.js';
import { verifiedClientCertificate } from './clientCert.js';
import { MAX_LOGGED_HOST, RequestRecord, type Mode, type RequestObserver } from '../observability/requestRecord.js';
import type { UpstreamErrorKind } from '../observability/labels.js';
import type { Reason } from '../errors.js';
import type { ProxyRuntime } from './runtime.js';

export type { AccessOutcome, Allowed, Denied } from './access.js';

/** What every entry point needs to decide a request: the runtime minus the upstream pools. */
export type DecisionRuntime = Pick<ProxyRuntime, 'snapshot' | 'verifier' | 'limiter' | 'observer' | 'now' | 'draining' | 'assertions'>;

/** A failure inside keygate while answering: logged, and the connection (`target`) destroyed. */
export type OnBug = (e: unknown, target: { destroy(): void }) => void;

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

/** What the end of a request adds to its record; `decision` only ever turns an allow into a deny. */
export interface RecordEnd {
  readonly status: number;
  readonly reason: Reason;
  readonly decision?: 'deny';
  readonly upstreamMs?: number;
  readonly upstreamStatus?: number;
  readonly upstreamError?: UpstreamErrorKind;
  readonly upstreamErrorCode?: string;
}

/** A decided request and its record, reported once with `finish`. */
export class OpenedRequest {
  constructor(
    private readonly observer: RequestObserver,
    readonly snapshot: Snapshot,
    readonly inbound: InboundRequest,
    readonly outcome: AccessOutcome,
    readonly record: RequestRecord,
    /** The service's signed identity assertion for an allowed request, when it has one. */
    readonly assertion: SignedAssertion | undefined,
  ) {}

  /** Who the upstream is told is calling (allowed requests). */
  identity(key: KeyRecord): Identity {
    return { user: key.user, keyId: key.id, keyName: key.name, ...(this.assertion ? { assertion: this.assertion } : {}) };
  }

  get requestId(): string {
    return this.record.requestId;
  }

  /** The client address decided on (through trustedProxies). */
  get clientIp(): string {
    return this.record.clientIp;
  }

  /** Reports the request, once, with how it ended (nothing more: it ended as decided). */
  finish(end?: RecordEnd): void {
    const r = this.record;
    if (end !== undefined) {
      r.status = end.status;
      r.reason = end.reason;
      if (end.decision !== undefined) r.decision = end.decision;
      r.upstreamMs = end.upstreamMs;
      r.upstreamStatus = end.upstreamStatus;
      r.upstreamError = end.upstreamError;
      r.upstreamErrorCode = end.upstreamErrorCode;
    }
    r.totalMs = r.elapsedMs();
    this.observer.finished(r);
  }
}

/**
 * The opening every request shares, proxied, upgraded or asked about on the decision API:
 * pin the snapshot (a reload mid-request never changes its rules), decide, and fill in
 * its record. `read` is the request as the proxy sees it unless the entry point says otherwise.
 * Answered at once unless the decision waits (a slow hash, a remote limiter, a signature):
 * callers take the value when it is not a promise, so a plain request takes no promise hop.
 */
export function openRequest(
  rt: DecisionRuntime,
  req: IncomingMessage,
  mode: Mode,
  read: TargetRead = asProxied(req),
): OpenedRequest | Promise<OpenedRequest> {
  const snapshot = rt.snapshot();
  const inbound = inboundOf(req, read, snapshot.listen.trustedProxies, mode);
  return openInbound(rt, snapshot, inbound, req.headers['x-request-id'], read.ok ? undefined : read.detail);
}

/**
 * The same opening for an entry point that is not node:http (the gRPC Check): the request
 * already read into `inbound`; `unreadableDetail` set means it could not be (400).
 */
export function openInbound(
  rt: DecisionRuntime,
  snapshot: Snapshot,
  inbound: InboundRequest,
  requestIdHeader: Parameters<typeof requestIdFrom>[0],
  unreadableDetail?: string,
): OpenedRequest | Promise<OpenedRequest> {
  const record = new RequestRecord(inbound.mode, requestIdFrom(requestIdHeader), inbound.method, inbound.target, inbound.clientIp);
  if (inbound.host !== undefined) record.host = inbound.host.slice(0, MAX_LOGGED_HOST);
  rt.observer.started();
  const now = rt.now();
  const outcome = unreadableDetail === undefined ? checkAccess(snapshot, rt, inbound, now) : unreadable(unreadableDetail);
  return outcome instanceof Promise
    ? outcome.then((o) => openedWith(rt, snapshot, inbound, record, o, now))
    : openedWith(rt, snapshot, inbound, record, outcome, now);
}

/** The decided request, with its identity assertion when the service sends one. */
function openedWith(
  rt: DecisionRuntime,
  snapshot: Snapshot,
  inbound: InboundRequest,
  record: RequestRecord,
  outcome: AccessOutcome,
  now: number,
): OpenedRequest | Promise<OpenedRequest> {
  decided(record, outcome);
  const settings = outcome.allow ? outcome.destination.service.assertion : undefined;
  if (!settings || !outcome.allow) return new OpenedRequest(rt.observer, snapshot, inbound, outcome, record, undefined);
  const token = rt.assertions.tokenFor(settings, outcome.key, snapshot.region, now);
  if (typeof token === 'string')
    return new OpenedRequest(rt.observer, snapshot, inbound, outcome, record, { header: settings.header, token });
  return token.then((t) => new OpenedRequest(rt.observer, snapshot, inbound, outcome, record, { header: settings.header, token: t }));
}

function asProxied(req: IncomingMessage): TargetRead {
  return { ok: true, original: { method: req.method ?? 'GET', target: req.url ?? '', host: req.headers.host } };
}

function inboundOf(req: IncomingMessage, read: TargetRead, trusted: Snapshot['listen']['trustedProxies'], mode: Mode): InboundRequest {
  const original = read.ok ? read.original : undefined;
  return {
    method: original?.method ?? req.method ?? 'GET',
    target: original?.target ?? '',
    host: original?.host,
    headers: headersOnceEach(req),
    rawHeaders: req.rawHeaders,
    mode,
    removesHeaders: original?.removesHeaders ?? true,
    clientIp: clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted),
    clientCertificate: () => verifiedClientCertificate(req),
  };
}

function unreadable(detail: string): Denied {
  return {
    allow: false,
    reason: 'bad_target',
    step: 0,
    detail,
    destination: undefined,
    keyId: undefined,
    key: undefined,
    rule: undefined,
    limits: undefined,
    shadow: undefined,
  };
}

/** The decision, into the record: who asked, for which service, and the answer. */
function decided(r: RequestRecord, outcome: AccessOutcome): void {
  r.decisionMs = r.elapsedMs();
  r.service = outcome.destination?.service.name || undefined;
  if (outcome.shadow !== undefined) r.shadow = outcome.shadow;
  const key = outcome.key;
  if (key !== undefined) {
    r.keyId = key.id;
    r.keyName = key.name;
    r.user = key.user;
  }
  if (outcome.allow) return;
  if (key === undefined) r.keyId = outcome.keyId || undefined;
  r.decision = 'deny';
  r.reason = outcome.reason;
  r.detail = outcome.detail;
  r.step = outcome.step;
  r.status = statusOf(outcome.reason);
}
