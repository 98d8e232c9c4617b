import type { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { eitherCredential, extractCredential } from '../auth/credentials.js';
import type { KeyVerifier, VerifyResult } from '../auth/verifier.js';
import type { ClientCertBinding, KeyRecord, RequestRules, ServiceConfig, Snapshot } from '../config/snapshot.js';
import type { DenyReason } from '../errors.js';
import { authorize, type AccessRequest, type Denial, type Grant, type StepNumber } from '../policy/decide.js';
import { userOf } from '../policy/model.js';
import { pathSegments } from '../policy/pathPattern.js';
import { readingsOf } from '../policy/pathReadings.js';
import { routeRequest } from '../policy/route.js';
import type { LimitVerdict, RateLimiter } from '../ratelimit/limiter.js';
import type { CompiledRule } from '../policy/rules.js';
import { bindingMismatch, describeBinding } from './clientCert.js';
import { queryCredential, type QueryCredential } from './credentialQuery.js';
import { parseTarget, TARGET_PROBLEMS } from './pathSafety.js';
import { hasShadow, judgeShadow, type ShadowVerdict } from './shadow.js';
import { checkMethodOverrides, isTrace, scanHeaders, upgradeProblem, type HeaderFindings, type OverrideCheck } from './requestMeaning.js';

/** A request as the edge sees it, before any decision. */
export interface InboundRequest {
  readonly method: string;
  readonly target: string; // raw request target, e.g. req.url
  readonly host: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The headers as received, [name, value, …]: spellings and repeats that `headers` merges. */
  readonly rawHeaders: readonly string[];
  /** `check`: a decision API question; nothing is forwarded by keygate itself. */
  readonly mode: 'proxy' | 'check';
  /** Whoever forwards can remove headers keygate names (the proxy itself, Envoy); nginx and Traefik cannot. */
  readonly removesHeaders: boolean;
  readonly clientIp: string;
  /** The verified client certificate of the connection (read only for keys bound to one). */
  readonly clientCertificate?: () => X509Certificate | undefined;
}

/** Where a request goes: its service, the path that service sees, and the upstream path. */
export interface Destination {
  readonly service: ServiceConfig;
  readonly path: string; // matched against rules
  readonly upstreamPath: string; // what is forwarded: upstream base + path + query
}

export type Allowed = {
  readonly allow: true;
  readonly destination: Destination;
  readonly key: KeyRecord;
  /** Where the key was read: a header name, or `?name` for the query parameter. */
  readonly credentialSource: string;
  readonly decision: Grant;
  /** The rate limits the request met (for the RateLimit headers); undefined when none applies. */
  readonly limits: LimitVerdict | undefined;
  /** What keygate.yaml `shadow` would have answered instead; undefined when it agrees or there is none. */
  readonly shadow: ShadowVerdict | undefined;
};
export type Denied = {
  readonly allow: false;
  readonly reason: DenyReason;
  readonly step: StepNumber | 0;
  readonly detail: string;
  readonly destination?: Destination;
  readonly keyId?: string;
  readonly key?: KeyRecord;
  readonly rule?: CompiledRule;
  /** Set for `rate_limited`: Retry-After and the RateLimit headers. */
  readonly limits?: LimitVerdict;
  /** What keygate.yaml `shadow` would have answered instead (steps 3-7 only). */
  readonly shadow?: ShadowVerdict;
};
export type AccessOutcome = Allowed | Denied;

/**
 * Path safety (step 0) and routing (step 1). What is forwarded must be a target keygate
 * would accept from a client: an empty segment (`//`) only where the service allows it,
 * and never a path that starts with `//` once `stripPrefix` took the prefix away
 * (`/compute//evil.example/x` would reach the upstream as `//evil.example/x`, which
 * `new URL(target, base)` reads as another host).
 */
export function resolveDestination(snapshot: Snapshot, host: string | undefined, target: string): Destination | Denied {
  const parsed = parseTarget(target, { allowSemicolon: true });
  if (!parsed.ok) return refusal('bad_target', 0, parsed.detail);
  const routed = routeRequest(snapshot.services, host, parsed.path);
  if (!routed) return refusal('no_route', 1, 'no service matches this host and path');
  if ('refused' in routed) return refusal('bad_target', 0, routed.refused);
  const service = routed.service;
  if (!service.allowSemicolon && parsed.path.includes(';')) return refusal('bad_target', 0, TARGET_PROBLEMS.semicolon);
  if (!service.allowEmptySegments && parsed.path.includes('//')) return refusal('bad_target', 0, TARGET_PROBLEMS.emptySegment);
  if (routed.path.startsWith('//')) return refusal('bad_target', 0, TARGET_PROBLEMS.leadingDoubleSlash);
  const base = service.upstream.pathname.replace(/\/$/, '');
  return { service, path: routed.path, upstreamPath: base + routed.path + parsed.query };
}

/** What decides besides the snapshot: secret verification and the rate limits. */
export interface AccessGuards {
  readonly verifier: KeyVerifier;
  readonly limiter: RateLimiter;
}

/**
 * The whole decision for one request: steps 0-7, then the rate limits (step 8), so a
 * denied request never takes quota. The failed-authentication limit per client address
 * is checked at step 2 before any hashing, and each failed verification counts.
 * No I/O beyond the verifier's hashing and the limiter's store. Answered at once (no
 * promise) unless a slow hash or a remote limiter store has to be waited for.
 */
export function checkAccess(
  snapshot: Snapshot,
  guards: AccessGuards,
  req: InboundRequest,
  now: number,
): AccessOutcome | Promise<AccessOutcome> {
  const found = scanHeaders(req.rawHeaders);
  if (found.hosts > 1) return refusal('bad_target', 0, 'more than one Host header');
  const destination = resolveDestination(snapshot, req.host, req.target);
  if ('allow' in destination) return destination;
  const rules = destination.service.requests;
  const upgrade = upgradeProblem(rules, found);
  if (upgrade !== undefined) return refusal('upgrade_not_allowed', 0, upgrade, destination);
  const overrides = checkMethodOverrides(rules, found, req.method, queryOf(req.target));
  if (!overrides.ok) return refusal('method_override', 0, overrides.detail, destination);
  const unstrippable = unstrippableOverride(req, rules, found, overrides);
  if (unstrippable) return refusal('method_override', 0, unstrippable, destination);
  // The decision API cannot keep the token off a TRACE it allows, so it never allows one.
  const traceAllowed = rules.allowTrace && req.mode === 'proxy';
  if (!traceAllowed && (isTrace(req.method) || overrides.methods.some(isTrace))) {
    return refusal('method_not_allowed', 0, 'TRACE and TRACK are not forwarded to this service', destination);
  }
  const sources = rules.credentials;
  const inQuery = sources.query === undefined ? undefined : queryCredential(sources.query, queryOf(req.target));
  // The decision API cannot take the key out of the URL the front proxy forwards.
  if (inQuery && req.mode === 'check')
    return refusal('malformed_credentials', 2, `a key in the query (${sources.query}) is accepted by the proxy only`, destination);
  const fromHeaders = extractCredential(req.headers, sources.headers);
  const credential = inQuery ? eitherCredential(fromHeaders, inQuery.credential) : fromHeaders;
  if (credential.kind === 'none') return refusal('missing_credentials', 2, 'no API key presented', destination);
  const { limiter } = guards;
  const wait = limiter.addressWait(req.clientIp, now);
  if (wait > 0) return limited(limiter.addressRefusal(snapshot.rateLimits, req.clientIp, wait, destination.service.name), 2, destination);
  if (credential.kind === 'malformed')
    return authFailed(
      snapshot,
      limiter,
      req,
      now,
      refusal('malformed_credentials', 2, `malformed ${sourceText(credential.source)}`, destination),
    );
  const verified = guards.verifier.verifyNow(snapshot.keys, credential.value, req.clientIp, now);
  // The query the upstream gets: without the key when it came in the query.
  const query = inQuery ? withoutKey(inQuery, overrides.query, sources.query!) : overrides.query;
  const asked: Verified = { snapshot, limiter, req, now, destination, credentialSource: credential.source, overrides, query };
  return verified instanceof Promise ? verified.then((v) => authorizeVerified(asked, v)) : authorizeVerified(asked, verified);
}

/** What `checkAccess` knows once the credential was read, for the steps after its verification. */
interface Verified {
  readonly snapshot: Snapshot;
  readonly limiter: RateLimiter;
  readonly req: InboundRequest;
  readonly now: number;
  readonly destination: Destination;
  readonly credentialSource: string;
  readonly overrides: OverrideCheck & { ok: true };
  /** The query to forward when it differs from the client's (a method override or the key taken out). */
  readonly query: string | undefined;
}

/** Steps 2 (the verification's answer, the client-certificate binding) to 8. */
function authorizeVerified(v: Verified, verified: VerifyResult<KeyRecord>): AccessOutcome | Promise<AccessOutcome> {
  const { snapshot, limiter, req, now, destination, overrides } = v;
  if (!verified.ok && verified.reason === 'rate_limited')
    return refusal('rate_limited', 2, authDetail(verified.reason), destination, verified.keyId || undefined);
  if (!verified.ok)
    return authFailed(
      snapshot,
      limiter,
      req,
      now,
      refusal(verified.reason, 2, authDetail(verified.reason), destination, verified.keyId || undefined),
    );
  const key = verified.key;
  const binding = snapshot.clientCertBindings.get(key.id);
  if (binding !== undefined) {
    const unbound = certificateProblem(binding, req);
    if (unbound) return authFailed(snapshot, limiter, req, now, refusal(unbound.reason, 2, unbound.detail, destination, key.id, key));
  }
  const asked = requestFor(destination, req.method, req.clientIp, now, snapshot.region);
  const decision = authorize(snapshot, key, asked);
  if (!decision.allow) {
    const denied = refusal(decision.reason, decision.step, decision.detail, destination, key.id, key, decision.rule);
    return hasShadow(snapshot, key) ? shadowed(denied, snapshot, key, asked, overrides.methods) : denied;
  }
  const overridden = authorizeOverrides(snapshot, key, destination, overrides.methods, req.clientIp, now);
  if (overridden) return hasShadow(snapshot, key) ? shadowed(overridden, snapshot, key, asked, overrides.methods) : overridden;
  const shadow = hasShadow(snapshot, key) ? judgeShadow(snapshot, key, asked, overrides.methods, decision) : undefined;
  const pending = limiter.check(snapshot.rateLimits, userOf(snapshot, key), key.id, destination.service.name, now);
  return pending instanceof Promise
    ? pending.then((limits) => limitedOrAllowed(v, key, decision, shadow, limits))
    : limitedOrAllowed(v, key, decision, shadow, pending);
}

/** Step 8's answer. */
function limitedOrAllowed(
  v: Verified,
  key: KeyRecord,
  decision: Grant,
  shadow: ShadowVerdict | undefined,
  limits: LimitVerdict | undefined,
): AccessOutcome {
  if (limits && !limits.allowed) return limited(limits, 8, v.destination, key);
  const forwarded = v.query === undefined ? v.destination : withQuery(v.destination, v.query);
  return { allow: true, destination: forwarded, key, credentialSource: v.credentialSource, decision, limits, shadow };
}

/** A live denial with the shadow candidate's different answer, if it has one. */
function shadowed(denied: Denied, snapshot: Snapshot, key: KeyRecord, asked: AccessRequest, overrides: readonly string[]): Denied {
  const shadow = judgeShadow(snapshot, key, asked, overrides, denied);
  return shadow === undefined ? denied : { ...denied, shadow };
}

function authFailed(snapshot: Snapshot, limiter: RateLimiter, req: InboundRequest, now: number, denied: Denied): Denied {
  limiter.authFailed(snapshot.rateLimits, req.clientIp, now);
  return denied;
}

function limited(verdict: LimitVerdict, step: 2 | 8, destination: Destination, key?: KeyRecord): Denied {
  return {
    allow: false,
    reason: 'rate_limited',
    step,
    detail: verdict.detail,
    destination,
    keyId: key?.id,
    key,
    rule: undefined,
    limits: verdict,
    shadow: undefined,
  };
}

/**
 * `methodOverride: authorize` (and `_method` found in a form body): the upstream runs
 * the overridden method, so the key must be allowed that one too. The first denial.
 */
export function authorizeOverrides(
  snapshot: Snapshot,
  key: KeyRecord,
  dest: Destination,
  methods: readonly string[],
  clientIp: string,
  now: number,
): Denied | undefined {
  for (const method of methods) {
    const also = decideFor(snapshot, key, dest, method, clientIp, now, snapshot.region);
    if (!also.allow)
      return refusal(also.reason, also.step, `${also.detail} (the overridden method ${method})`, dest, key.id, key, also.rule);
  }
  return undefined;
}

/**
 * `strip` where nobody can strip: the decision API cannot rewrite the target, and nginx
 * and Traefik cannot remove headers on keygate's word, so such a request is refused.
 */
function unstrippableOverride(
  req: InboundRequest,
  rules: RequestRules,
  found: HeaderFindings,
  overrides: OverrideCheck & { ok: true },
): string | undefined {
  if (req.mode !== 'check' || rules.methodOverride !== 'strip') return undefined;
  if (overrides.query !== undefined) return 'a _method query parameter the front proxy cannot remove';
  if (!req.removesHeaders && found.methodOverrides.length > 0) return 'a method-override header this front proxy cannot remove';
  return undefined;
}

function queryOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? '' : target.slice(q);
}

/** The query to forward with the key's parameter taken out (after any `_method` removal). */
function withoutKey(inQuery: QueryCredential, stripped: string | undefined, name: string): string {
  // queryCredential already cut it from the request's own query; only a `_method` removal means cutting again.
  return stripped === undefined ? inQuery.rest : (queryCredential(name, stripped)?.rest ?? stripped);
}

function sourceText(source: string): string {
  return source.startsWith('?') ? `${source.slice(1)} query parameter` : `${source} header`;
}

function withQuery(dest: Destination, query: string): Destination {
  const q = dest.upstreamPath.indexOf('?');
  return { ...dest, upstreamPath: (q === -1 ? dest.upstreamPath : dest.upstreamPath.slice(0, q)) + query };
}

/** Steps 3-7 for a known key at a known destination (shared with `keygate explain`). */
export function decideFor(
  snapshot: Snapshot,
  key: KeyRecord,
  dest: Destination,
  method: string,
  clientIp: string,
  now: number,
  region: string,
): Grant | Denial {
  return authorize(snapshot, key, requestFor(dest, method, clientIp, now, region));
}

/** The request as steps 3-7 read it. */
export function requestFor(dest: Destination, method: string, clientIp: string, now: number, region: string): AccessRequest {
  const segments = pathSegments(dest.path);
  return {
    region,
    service: dest.service.name,
    method,
    segments,
    clientIp,
    now,
    readings: readingsOf(segments, dest.service.caseInsensitive),
  };
}

/**
 * Every denial has this one shape, absent parts `undefined`. Built with spreads
 * (`{ ...denied(), ...(keyId ? { keyId } : {}) }`) each denial cost ~1.5 µs on Node 20
 * and left objects of several shapes for `baseRecord` to read.
 */
function refusal(
  reason: DenyReason,
  step: StepNumber | 0,
  detail: string,
  destination?: Destination,
  keyId?: string,
  key?: KeyRecord,
  rule?: CompiledRule,
): Denied {
  return { allow: false, reason, step, detail, destination, keyId, key, rule, limits: undefined, shadow: undefined };
}

function authDetail(reason: 'malformed_credentials' | 'unknown_key' | 'bad_secret' | 'rate_limited'): string {
  if (reason === 'rate_limited') return 'the slow-hash queue is full or this client holds its share: retry later';
  if (reason === 'unknown_key') return 'no key with this id';
  if (reason === 'bad_secret') return 'the secret does not verify';
  return 'the key string is malformed';
}

/**
 * A key bound to a client certificate (keys file `clientCert`) works only over a connection
 * that presented a matching, verified one. The decision API never sees the client's TLS
 * connection, so a bound key is refused there. The log says which; the client gets the
 * same 401 as for a wrong key.
 */
function certificateProblem(
  binding: ClientCertBinding,
  req: InboundRequest,
): { reason: 'client_cert_missing' | 'client_cert_mismatch'; detail: string } | undefined {
  const cert = req.mode === 'proxy' ? req.clientCertificate?.() : undefined;
  if (!cert) {
    const where =
      req.mode === 'check' ? 'the decision API cannot see client certificates' : 'no verified client certificate on this connection';
    return { reason: 'client_cert_missing', detail: `key bound to a client certificate (${describeBinding(binding)}): ${where}` };
  }
  const mismatch = bindingMismatch(binding, cert);
  return mismatch ? { reason: 'client_cert_mismatch', detail: mismatch } : undefined;
}
