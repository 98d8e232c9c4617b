import type { IncomingMessage } from 'node:http';
import type { CheckDialect } from '../config/snapshot.js';
import { headersOnceEach } from '../proxy/headers.js';

/**
 * Which front proxy is asking (SPEC §6), chosen per request from the headers it sends:
 *   X-Original-URI  → nginx   `auth_request`  (X-Original-Method, X-Original-URI)
 *   X-Forwarded-Uri → Traefik `ForwardAuth`   (X-Forwarded-Method, -Uri, -Host)
 *   neither         → Envoy   `ext_authz` HTTP (the check request's own method, path, Host)
 */
export type Dialect = 'envoy' | 'nginx' | 'traefik';

/** The client's request as the front proxy describes it: what keygate routes and checks. */
export interface OriginalRequest {
  readonly dialect: Dialect;
  readonly method: string;
  /** The client's raw request target, route prefix and query included. */
  readonly target: string;
  readonly host: string | undefined;
  /** nginx and Traefik cannot remove request headers on keygate's word; Envoy can. */
  readonly removesHeaders?: boolean;
}

export type DialectRead =
  | { readonly ok: true; readonly original: OriginalRequest }
  /** `detail` names the header at fault and never echoes its value. */
  | { readonly ok: false; readonly dialect: Dialect; readonly detail: string };

/** `headersOnceEach`: one value per header (`req.headers`, nothing repeats), or every copy of each (`headersDistinct`). */
type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

interface HeaderDialect {
  readonly dialect: 'nginx' | 'traefik';
  readonly uri: string;
  readonly method: string;
  /** Tried in order; the first one present names the original host. */
  readonly host: readonly string[];
}

const NGINX: HeaderDialect = { dialect: 'nginx', uri: 'x-original-uri', method: 'x-original-method', host: ['x-forwarded-host', 'host'] };
const TRAEFIK: HeaderDialect = { dialect: 'traefik', uri: 'x-forwarded-uri', method: 'x-forwarded-method', host: ['x-forwarded-host'] };

/** RFC 9110 §9.1: a method is a token. Bounded so a header cannot inflate logs. */
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

/**
 * `pinned` (listen.check.dialect): that dialect only, the others' headers ignored — never
 * trusted, so a client header the front proxy lets through cannot pick the path checked.
 * `auto` chooses per request as above.
 */
export function readOriginal(req: IncomingMessage, pinned: CheckDialect = 'auto'): DialectRead {
  const headers: Headers = headersOnceEach(req);
  if (pinned === 'envoy') return envoyReading(req);
  if (pinned === 'nginx' || pinned === 'traefik') {
    const d = pinned === 'nginx' ? NGINX : TRAEFIK;
    if (headers[d.uri] === undefined)
      return { ok: false, dialect: d.dialect, detail: `${display(d.uri)} missing (listen.check dialect: ${d.dialect})` };
    return fromHeaders(d, headers);
  }
  const nginx = headers[NGINX.uri] !== undefined;
  const traefik = headers[TRAEFIK.uri] !== undefined;
  // Both present means a client smuggled one dialect's header through the other's
  // proxy: refusing is the only answer that cannot check a path the proxy won't serve.
  if (nginx && traefik) return { ok: false, dialect: 'nginx', detail: 'both X-Original-URI and X-Forwarded-Uri present' };
  if (nginx) return fromHeaders(NGINX, headers);
  if (traefik) return fromHeaders(TRAEFIK, headers);
  return envoyReading(req);
}

function envoyReading(req: IncomingMessage): DialectRead {
  return { ok: true, original: { dialect: 'envoy', method: req.method ?? 'GET', target: req.url ?? '', host: req.headers.host } };
}

function fromHeaders(d: HeaderDialect, headers: Headers): DialectRead {
  const fail = (detail: string): DialectRead => ({ ok: false, dialect: d.dialect, detail });
  const target = single(headers, d.uri);
  if (target === undefined) return fail(`repeated ${display(d.uri)} header`);
  const method = single(headers, d.method);
  if (method === undefined) return fail(`${display(d.method)} missing or repeated`);
  if (!METHOD_TOKEN.test(method)) return fail(`${display(d.method)} is not an HTTP method`);
  const host = originalHost(d, headers);
  if (host === false) return fail('X-Forwarded-Host must name exactly one host');
  return { ok: true, original: { dialect: d.dialect, method, target, host, removesHeaders: false } };
}

/** The first host header of the dialect that is present; `false` when it is ambiguous. */
function originalHost(d: HeaderDialect, headers: Headers): string | undefined | false {
  for (const name of d.host) {
    if (headers[name] === undefined) continue;
    const value = single(headers, name);
    return value === undefined || value.includes(',') ? false : value;
  }
  return undefined;
}

/** The header's one value; undefined when it is absent or repeated. */
function single(headers: Headers, name: string): string | undefined {
  const values = headers[name];
  if (typeof values === 'string') return values;
  return values?.length === 1 ? values[0] : undefined;
}

const DISPLAY_NAMES: Record<string, string> = {
  'x-original-uri': 'X-Original-URI',
  'x-original-method': 'X-Original-Method',
  'x-forwarded-uri': 'X-Forwarded-Uri',
  'x-forwarded-method': 'X-Forwarded-Method',
};

function display(name: string): string {
  return DISPLAY_NAMES[name] ?? name;
}
