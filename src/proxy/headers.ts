import { http2BodyFollows } from './http2Shape.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { CREDENTIAL_HEADERS } from '../auth/credentials.js';
import { URL_OVERRIDE_HEADERS } from '../config/requestRules.js';
import type { RequestRules, ServiceToken } from '../config/snapshot.js';
import { METHOD_OVERRIDE_HEADERS } from './requestMeaning.js';

/** RFC 9110 §7.6.1: connection-specific fields that a proxy never forwards. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

const CLIENT_CREDENTIALS: ReadonlySet<string> = new Set(CREDENTIAL_HEADERS);

/** Who called, as the upstream reads it: [user, key id, key name]. */
export const IDENTITY_HEADERS = ['x-keygate-user', 'x-keygate-key-id', 'x-keygate-key-name'] as const;

/** What the upstream is told about the caller. */
export interface Identity {
  readonly user: string;
  readonly keyId: string;
  readonly keyName: string;
  /** The service's signed identity assertion, when it has one. */
  readonly assertion?: SignedAssertion;
}

/** A service's identity token and the (lower-case) header it goes in. */
export interface SignedAssertion {
  readonly header: string;
  readonly token: string;
}

export interface ForwardingFacts {
  /** The TCP peer: what this hop appends to X-Forwarded-For. */
  readonly peerIp: string;
  /** The peer is in `listen.trustedProxies`: its X-Forwarded-Host/-Proto are kept and appended to. */
  readonly peerTrusted: boolean;
  /** The client address resolved through trustedProxies (the one `sourceIPs` saw): X-Real-IP. */
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
  readonly requestId: string;
  /** Also set an RFC 7239 `Forwarded` header. */
  readonly forwardedHeader: boolean;
  /** TRACE (a service opted in): the upstream echoes the request, so no token and no identity go up. */
  readonly bare: boolean;
}

/** CGI-style servers read `X_Keygate_User` as `X-Keygate-User`, so both spellings count. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** The names a `Connection:` header lists; they are hop-by-hop for this request only. */
export function connectionListed(rawHeaders: readonly string[]): Set<string> {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'connection') values.push(rawHeaders[i + 1]);
  }
  return connectionTokens(values);
}

function connectionTokens(values: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const value of values) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) out.add(name);
    }
  }
  return out;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * What keygate itself adds to a request it lets through, as a flat [name, value, …] list:
 * the service token (in the service's header and scheme) and the identity headers. The
 * proxy appends these upstream; the decision API hands them to the front proxy to copy.
 */
export function keygateHeaders(token: ServiceToken, who: Identity): string[] {
  const [user, keyId, keyName] = IDENTITY_HEADERS;
  const out: string[] = [];
  if (token.source.kind !== 'none') out.push(token.header, token.scheme ? `${token.scheme} ${token.value}` : token.value);
  out.push(user, identityValue(who.user), keyId, who.keyId, keyName, identityValue(who.keyName));
  if (who.assertion) out.push(who.assertion.header, who.assertion.token);
  return out;
}

/** Characters an identity value is sent as-is with: printable ASCII and inner spaces, but never `%`. */
const PLAIN_VALUE = /^(?:[!-$&-~](?:[ !-$&-~]*[!-$&-~])?)?$/;

/**
 * A user or key name as a header value: unchanged when it is printable ASCII without
 * `%` (every name before non-ASCII was allowed), otherwise percent-encoded UTF-8 for
 * every other character, so `李雷` is `%E6%9D%8E%E9%9B%B7` and `decodeURIComponent`
 * gives the name back. Names with control characters are refused at load.
 */
export function identityValue(name: string): string {
  if (PLAIN_VALUE.test(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const plain = c > 0x20 && c < 0x7f && c !== 0x25;
    const innerSpace = c === 0x20 && i > 0 && i < name.length - 1;
    if (plain || innerSpace) out += name[i];
    else {
      const cp = name.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out += cp >= 0xd800 && cp <= 0xdfff ? '%EF%BF%BD' : encodeURIComponent(String.fromCodePoint(cp)); // a lone surrogate: U+FFFD
    }
  }
  return out;
}

/**
 * Whether a client's header is one keygate owns on the way up, so the client's copy never
 * reaches the upstream: the credential headers, every `X-Keygate-*`, the service-token
 * header and the assertion header. All three arguments are `canonicalName`s.
 */
export function ownedByKeygate(canonical: string, tokenHeader: string, assertionHeader = ''): boolean {
  return (
    CLIENT_CREDENTIALS.has(canonical) || canonical.startsWith('x-keygate-') || canonical === tokenHeader || canonical === assertionHeader
  );
}

/**
 * The request's headers with a repeated one told apart from a single one: `req.headers`
 * when no name repeats (then it has one key per raw header), else `headersDistinct` (every
 * copy of each, as an array). Node's `req.headers` keeps only the first of a repeated
 * `Authorization` and joins others, so a repeat must be read from the distinct form;
 * building that form for every request is a second copy of all headers.
 */
export function headersOnceEach(req: IncomingMessage): IncomingHttpHeaders | NodeJS.Dict<string[]> {
  return Object.keys(req.headers).length * 2 === req.rawHeaders.length ? req.headers : req.headersDistinct;
}

/** Whether the request announces a body (RFC 9112 §6.3): chunked, or a non-zero Content-Length. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0' || req.headers['transfer-encoding'] !== undefined;
  return req.headers['transfer-encoding'] !== undefined || http2BodyFollows(req);
}

/**
 * The request headers the upstream receives, as a flat [name, value, …] list.
 * Order matters: everything untrusted is removed first, then keygate's own headers are
 * added last, so nothing the client sends (not even a `Connection:` list) can remove
 * or spoof them. `dropped`: canonical names the service's request rules remove (see
 * requestMeaning.ts).
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  token: ServiceToken,
  who: Identity,
  facts: ForwardingFacts,
  dropped: ReadonlySet<string> = NONE,
): string[] {
  const tokenHeader = canonicalName(token.header);
  const assertionHeader = who.assertion?.header ?? '';
  const listed = connectionListed(rawHeaders);
  const out: string[] = [];
  const forwarded: Record<'x-forwarded-for' | 'x-forwarded-proto' | 'x-forwarded-host', string[]> = {
    'x-forwarded-for': [],
    'x-forwarded-proto': [],
    'x-forwarded-host': [],
  };
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const lower = name.toLowerCase();
    const canonical = canonicalName(name);
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || ownedByKeygate(canonical, tokenHeader, assertionHeader)) continue;
    if (lower === 'host' || lower === 'expect' || lower === 'x-request-id') continue;
    if (dropped.has(canonical)) continue;
    if (lower in forwarded) {
      forwarded[lower as keyof typeof forwarded].push(rawHeaders[i + 1]);
      continue;
    }
    out.push(name, rawHeaders[i + 1]);
  }
  appendForwarded(out, 'x-forwarded-for', forwarded['x-forwarded-for'], facts.peerIp);
  // An untrusted client's X-Forwarded-Host/-Proto are its own claims: replaced, so an
  // upstream reading the first value (Express with trust proxy) never sees them.
  appendForwarded(out, 'x-forwarded-proto', facts.peerTrusted ? forwarded['x-forwarded-proto'] : [], facts.proto);
  if (facts.host) appendForwarded(out, 'x-forwarded-host', facts.peerTrusted ? forwarded['x-forwarded-host'] : [], facts.host);
  out.push('x-real-ip', facts.clientIp);
  if (facts.forwardedHeader) out.push('forwarded', forwardedValue(facts));
  out.push('x-request-id', facts.requestId);
  if (!facts.bare) out.push(...keygateHeaders(token, who));
  return out;
}

/** RFC 7239 §4: `for=…;host=…;proto=…`, an IPv6 address quoted in brackets, a host quoted when it must be. */
function forwardedValue(facts: ForwardingFacts): string {
  const ip = facts.clientIp.includes(':') ? `"[${facts.clientIp}]"` : facts.clientIp;
  const parts = [`for=${ip}`];
  if (facts.host) parts.push(`host=${/^[A-Za-z0-9.-]+$/.test(facts.host) ? facts.host : JSON.stringify(facts.host)}`);
  parts.push(`proto=${facts.proto}`);
  return parts.join(';');
}

function appendForwarded(out: string[], name: string, previous: string[], value: string): void {
  out.push(name, previous.length === 0 ? value : `${previous.join(', ')}, ${value}`);
}

/** `Connection:` values nearly every upstream sends, read once (they run on every response). */
const COMMON_CONNECTION = new Map<string, ReadonlySet<string>>([
  ['keep-alive', new Set(['keep-alive'])],
  ['close', new Set(['close'])],
]);

/** The response headers the client receives: hop-by-hop removed, the request id added. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  requestId: string,
): Record<string, string | string[]> {
  const connection = upstream.connection;
  const listed =
    connection === undefined
      ? NONE
      : ((typeof connection === 'string' ? COMMON_CONNECTION.get(connection) : undefined) ??
        connectionTokens(Array.isArray(connection) ? connection : [connection]));
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

/** The RateLimit fields of an allowed answer (built in rateLimitHeaders.ts), for every entry point. */
export { allowedLimitHeaders } from './rateLimitHeaders.js';

const dropped = new WeakMap<RequestRules, ReadonlySet<string>>();

/** Client-address headers keygate owns: the client's copies never pass, keygate sets its own. */
export const CLIENT_ADDRESS_HEADERS: readonly string[] = ['x-real-ip', 'forwarded'];

/**
 * Inbound headers (canonical names) the upstream must not receive from this service's
 * clients, built once per service and config generation: URL overrides (unless kept),
 * the client-address headers keygate sets itself, and method overrides under `strip`.
 */
export function droppedHeaders(rules: RequestRules): ReadonlySet<string> {
  let names = dropped.get(rules);
  if (!names) {
    names = new Set([
      ...URL_OVERRIDE_HEADERS.filter((h) => !rules.keepUrlOverrides.includes(h)),
      ...CLIENT_ADDRESS_HEADERS,
      ...(rules.methodOverride === 'strip' ? METHOD_OVERRIDE_HEADERS : []),
      // The service's own credential headers (Authorization and X-API-Key always go).
      ...rules.credentials.headers.map(canonicalName),
    ]);
    dropped.set(rules, names);
  }
  return names;
}
