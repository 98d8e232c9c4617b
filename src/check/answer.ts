import type { Allowed } from '../proxy/access.js';
import { canonicalName } from '../proxy/headers.js';
import type { Dialect } from './dialect.js';

/** Envoy's HTTP ext_authz reads this response header as "remove these from the request". */
export const ENVOY_REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';

export const IDENTITY_HEADERS = ['x-keygate-user', 'x-keygate-key-id', 'x-keygate-key-name'] as const;

/** Where clients put their key (SPEC §4); the upstream must never see either. */
const CLIENT_CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

/**
 * The 200 answer's headers: exactly what the upstream should receive from keygate —
 * the service token (in the service's header and scheme) and the identity headers —
 * for the front proxy to copy onto the request (Envoy `allowed_upstream_headers`,
 * nginx `auth_request_set`, Traefik `authResponseHeaders`).
 */
export function allowHeaders(outcome: Allowed, dialect: Dialect, rawHeaders: readonly string[], requestId: string): Record<string, string> {
  const upstream = upstreamHeaders(outcome);
  const out: Record<string, string> = { ...upstream, 'x-request-id': requestId, 'cache-control': 'no-store', 'content-length': '0' };
  if (dialect === 'envoy') {
    const remove = headersToRemove(rawHeaders, new Set(Object.keys(upstream)));
    if (remove.length > 0) out[ENVOY_REMOVE_HEADER] = remove.join(', ');
  }
  return out;
}

function upstreamHeaders(outcome: Allowed): Record<string, string> {
  const token = outcome.destination.service.serviceToken;
  const out: Record<string, string> = {};
  if (token.source.kind !== 'none') out[token.header] = token.scheme ? `${token.scheme} ${token.value}` : token.value;
  const [user, keyId, keyName] = IDENTITY_HEADERS;
  out[user] = outcome.key.user;
  out[keyId] = outcome.key.id;
  out[keyName] = outcome.key.name;
  return out;
}

/**
 * What Envoy must remove from the client's request: both credential headers and every
 * inbound spelling of a header keygate owns (`X-Keygate-*`, `_` counted as `-`, and the
 * service-token header). Envoy removes *after* it sets the allowed headers, so a name
 * keygate sets is never listed (it is overwritten instead, which is what we want).
 */
function headersToRemove(rawHeaders: readonly string[], setByKeygate: ReadonlySet<string>): string[] {
  const owned = new Set([...setByKeygate].map(canonicalName));
  const remove = new Set<string>(CLIENT_CREDENTIAL_HEADERS);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const canonical = canonicalName(name);
    if (canonical.startsWith('x-keygate-') || owned.has(canonical)) remove.add(name);
  }
  return [...remove].filter((name) => !setByKeygate.has(name));
}
