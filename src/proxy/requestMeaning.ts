import type { RequestRules } from '../config/snapshot.js';

/**
 * Parts of a request that make an upstream execute something other than the method,
 * path and protocol keygate checked. Read in one pass over the raw headers, before the
 * key is verified: a refusal here costs no hashing.
 */
export interface HeaderFindings {
  /** Every protocol an `Upgrade:` header names, lower case, versions dropped. */
  readonly upgrades: readonly string[];
  /** `HTTP2-Settings` sent, or named in `Connection:`: an h2c upgrade in disguise. */
  readonly h2cHint: boolean;
  /** The values of method-override headers, in any spelling, as sent. */
  readonly methodOverrides: readonly string[];
  /** How many `Host` headers came (RFC 9112 §3.2: more than one is a 400). */
  readonly hosts: number;
}

/**
 * Express `method-override`, Laravel, Symfony, Rails, ASP.NET and Google-style APIs
 * read these. Compared as canonical names: lower case, `_` as `-` (CGI-style servers
 * merge the two, so `X_HTTP_METHOD_OVERRIDE` counts).
 */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = ['x-http-method-override', 'x-http-method', 'x-method-override'];

const ONE_HOST: HeaderFindings = { upgrades: [], h2cHint: false, methodOverrides: [], hosts: 1 };

/** RFC 9110 §9.1: a method is a token; bounded so a header cannot inflate logs. */
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;
/** More distinct overridden methods than this in one request is not a client, it is a probe. */
const MAX_OVERRIDES = 4;

export function scanHeaders(rawHeaders: readonly string[]): HeaderFindings {
  let upgrades: string[] | undefined;
  let overrides: string[] | undefined;
  let h2cHint = false;
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    // Most headers are none of these: skip them on length before lower-casing.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 7:
      case 10:
      case 14: {
        const lower = name.toLowerCase();
        if (lower === 'upgrade') (upgrades ??= []).push(...upgradeProtocols(rawHeaders[i + 1]));
        else if (lower === 'http2-settings') h2cHint = true;
        else if (lower === 'connection' && /(^|[\s,])http2-settings($|[\s,])/i.test(rawHeaders[i + 1])) h2cHint = true;
        break;
      }
      case 13:
      case 17:
      case 22:
        // `Authorization` is 13 long too: look at the first letter (x/X) before lower-casing.
        if ((name.charCodeAt(0) | 0x20) === 0x78 && METHOD_OVERRIDE_HEADERS.includes(name.toLowerCase().replaceAll('_', '-')))
          (overrides ??= []).push(rawHeaders[i + 1]);
        break;
    }
  }
  if (upgrades === undefined && overrides === undefined && !h2cHint && hosts === 1) return ONE_HOST;
  return { upgrades: upgrades ?? [], h2cHint, methodOverrides: overrides ?? [], hosts };
}

/** `websocket, h2c`, `WebSocket/13` → `websocket`, `h2c`. */
export function upgradeProtocols(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim().split('/', 1)[0].toLowerCase();
    if (name) out.push(name);
  }
  return out;
}

/** Why the request may not be forwarded as sent (a detail for 400 `upgrade_not_allowed`), or undefined. */
export function upgradeProblem(rules: RequestRules, found: HeaderFindings): string | undefined {
  if (found.h2cHint) return 'h2c upgrades are never proxied';
  for (const protocol of found.upgrades) {
    if (protocol === 'h2c') return 'h2c upgrades are never proxied';
    if (!rules.upgrades.includes(protocol)) return 'upgrade protocol not allowed for this service';
  }
  return undefined;
}

/** TRACE echoes the request back (credentials included, for Cross-Site Tracing); TRACK is IIS's. */
export function isTrace(method: string): boolean {
  return method.length === 5 && (method.toUpperCase() === 'TRACE' || method.toUpperCase() === 'TRACK');
}

export type OverrideCheck =
  /**
   * `methods`: overridden methods that differ from the request's and must be authorized
   * too (`authorize`); `query`: the query to forward instead, when `strip` removed
   * `_method` from it.
   */
  { readonly ok: true; readonly methods: readonly string[]; readonly query?: string } | { readonly ok: false; readonly detail: string };

const NO_OVERRIDE: OverrideCheck = { ok: true, methods: [] };

/**
 * What the service's `methodOverride` makes of the override headers and `_method` query
 * parameters: an override naming the request's own method changes nothing and passes.
 */
export function checkMethodOverrides(rules: RequestRules, found: HeaderFindings, method: string, query: string): OverrideCheck {
  const inQuery = queryMethodOverrides(query);
  if (found.methodOverrides.length === 0 && inQuery === undefined) return NO_OVERRIDE;
  if (rules.methodOverride === 'strip') return inQuery === undefined ? NO_OVERRIDE : { ok: true, methods: [], query: inQuery.rest };
  const named = distinctOverrides(method, inQuery === undefined ? found.methodOverrides : [...found.methodOverrides, ...inQuery.values]);
  if (named.ok && named.methods.length > 0 && rules.methodOverride === 'reject') {
    return { ok: false, detail: 'method overrides (X-HTTP-Method-Override, _method) are not allowed for this service' };
  }
  return named;
}

/** The distinct methods named (upper-cased, as frameworks do) other than the request's own. */
export function distinctOverrides(method: string, values: readonly string[]): OverrideCheck {
  const methods: string[] = [];
  for (const value of values) {
    const m = value.trim().toUpperCase();
    if (!METHOD_TOKEN.test(m)) return { ok: false, detail: 'a method override that is not an HTTP method' };
    if (m !== method && !methods.includes(m)) methods.push(m);
  }
  if (methods.length === 0) return NO_OVERRIDE;
  if (methods.length > MAX_OVERRIDES) return { ok: false, detail: 'too many method overrides' };
  return { ok: true, methods };
}

/**
 * `_method` parameters of a query ('' or '?…'): their values, and the query without
 * them. Keys are read as PHP, Rack and qs read them: percent- and `+`-decoded, case
 * ignored, a leading ` `, `.` or `[` read as `_`, `[…]` array suffixes dropped.
 */
export function queryMethodOverrides(query: string): { values: string[]; rest: string } | undefined {
  if (query.length < 8) return undefined; // '?_method' is the shortest
  const lower = query.toLowerCase();
  if (!lower.includes('method') && !lower.includes('%')) return undefined;
  const parts = query.slice(1).split(/([&;])/);
  const values: string[] = [];
  let rest = '';
  for (let i = 0; i < parts.length; i += 2) {
    const pair = parts[i];
    const eq = pair.indexOf('=');
    if (isMethodKey(eq === -1 ? pair : pair.slice(0, eq))) values.push(eq === -1 ? '' : formDecode(pair.slice(eq + 1)));
    else rest += (rest === '' ? '' : (parts[i - 1] ?? '&')) + pair;
  }
  return values.length === 0 ? undefined : { values, rest: rest === '' ? '' : `?${rest}` };
}

export function isMethodKey(rawKey: string): boolean {
  return parameterKey(rawKey).toLowerCase() === '_method';
}

/**
 * A query or form key as PHP, Rack and qs read it: percent- and `+`-decoded, leading
 * whitespace dropped, a `[…]` array suffix dropped, a leading `[` and every ` ` or `.`
 * read as `_` (PHP's `api.key` is `api_key`).
 */
export function parameterKey(rawKey: string): string {
  let key = formDecode(rawKey).trimStart();
  const bracket = key.indexOf('[', 1);
  if (bracket !== -1) key = key.slice(0, bracket);
  if (key.startsWith('[')) key = `_${key.slice(1)}`;
  return key.replace(/[ .]/g, '_');
}

/** application/x-www-form-urlencoded decoding; a malformed escape stays as it is. */
export function formDecode(text: string): string {
  const plus = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!plus.includes('%')) return plus;
  return plus.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
