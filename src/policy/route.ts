/** How a request finds its service: host and/or a whole-segment path prefix; first match wins. */
export interface RouteSpec {
  readonly name: string;
  readonly host?: string; // lower case, no port
  readonly pathPrefix?: string; // starts with '/', no trailing '/'
  readonly stripPrefix: boolean;
}

export interface Routed<S extends RouteSpec> {
  readonly service: S;
  readonly path: string; // the path the service sees
}

export function routeRequest<S extends RouteSpec>(services: readonly S[], hostHeader: string | undefined, path: string): Routed<S> | undefined {
  const host = hostHeader === undefined ? undefined : hostName(hostHeader);
  for (const service of services) {
    if (service.host !== undefined && service.host !== host) continue;
    const local = service.pathPrefix === undefined ? path : underPrefix(service.pathPrefix, path);
    if (local === undefined) continue;
    return { service, path: service.stripPrefix ? local : path };
  }
  return undefined;
}

/** `/compute` matches `/compute` and `/compute/x`, never `/computers`. Returns the rest of the path. */
function underPrefix(prefix: string, path: string): string | undefined {
  if (prefix === '/') return path;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : undefined;
}

/** `Example.COM:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export function normalizePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
