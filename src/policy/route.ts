/** How a request finds its service: host and/or a whole-segment path prefix; first match wins. */
export interface RouteSpec {
  readonly name: string;
  readonly host?: string; // lower case, no port, no trailing dot
  readonly pathPrefix?: string; // starts with '/', no trailing '/'
  readonly stripPrefix: boolean;
  /** The upstream routes case-insensitively: the prefix matches ignoring case too. */
  readonly caseInsensitive?: boolean;
}

export interface Routed<S extends RouteSpec> {
  readonly service: S;
  readonly path: string; // the path the service sees
}

/** The request cannot be routed safely: `detail` says why (never echoes the input). */
export interface RouteRefusal {
  readonly refused: string;
}

export const ROUTE_PROBLEMS = Object.freeze({
  malformedHost: 'malformed Host',
  prefixCase: 'path matches a route prefix only when case is ignored',
});

/**
 * The first service whose host and prefix match. Refused: a malformed Host, and a path that
 * would reach a case-sensitive service's prefix only if case were ignored (`/Admin/users`
 * for `/admin`) — an upstream behind a later route (a catch-all) may well read it as
 * `/admin/users`, and nginx and Envoy prefixes are case-sensitive, so neither choice of
 * ours would be safe. A `caseInsensitive` service takes such a path instead.
 */
export function routeRequest<S extends RouteSpec>(
  services: readonly S[],
  hostHeader: string | undefined,
  path: string,
): Routed<S> | RouteRefusal | undefined {
  const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
  if (host === null) return { refused: ROUTE_PROBLEMS.malformedHost };
  for (const service of services) {
    if (service.host !== undefined && service.host !== host) continue;
    if (service.pathPrefix === undefined) return { service, path };
    const local = underPrefix(service.pathPrefix, path, false) ?? caseVariant(service, path);
    if (local === undefined) continue;
    if (local === null) return { refused: ROUTE_PROBLEMS.prefixCase };
    return { service, path: service.stripPrefix ? local : path };
  }
  return undefined;
}

/** For a path under the prefix only when case is ignored: the rest (caseInsensitive service), or null (refuse). */
function caseVariant(service: RouteSpec, path: string): string | null | undefined {
  const local = underPrefix(service.pathPrefix!, path, true);
  if (local === undefined) return undefined;
  return service.caseInsensitive === true ? local : null;
}

/** `/compute` matches `/compute` and `/compute/x`, never `/computers`. Returns the rest of the path. */
function underPrefix(prefix: string, path: string, ignoreCase: boolean): string | undefined {
  if (prefix === '/') return path;
  if (!(ignoreCase ? startsWithIgnoringCase(path, prefix) : path.startsWith(prefix))) return undefined;
  const rest = path.slice(prefix.length);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : undefined;
}

/** ASCII case folding, without allocating: runs for every service a request does not match. */
function startsWithIgnoringCase(text: string, prefix: string): boolean {
  if (text.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const a = text.charCodeAt(i);
    const b = prefix.charCodeAt(i);
    if (a !== b && (a | 0x20) !== (b | 0x20)) return false;
    if (a !== b && !isAsciiLetter(a)) return false;
  }
  return true;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * `host[:port]` as RFC 9110 §7.2 allows it: a DNS-style name (letters, digits, `-`, `_`,
 * single dots) or a bracketed IPv6 literal, an optional port.
 */
const HOST = /^(?:(\[[0-9a-f:.]+\])|([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)\.?)(?::\d{0,5})?$/;

/**
 * `Example.COM:8080` → `example.com`; `example.com.` → `example.com` (one trailing dot is the
 * same name, as nginx reads it); `[::1]:80` → `[::1]`; an empty Host → ''; null when malformed
 * (`a..b`, `a/b`, `a b`, `host:port:x`).
 */
export function parseHost(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h === '') return '';
  const m = HOST.exec(h);
  if (!m) return null;
  return m[1] ?? m[2];
}

/** A host as configured in `route.host`: the same reading as a request's Host. */
export function hostName(host: string): string {
  return parseHost(host) ?? host.trim().toLowerCase();
}

export function normalizePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
