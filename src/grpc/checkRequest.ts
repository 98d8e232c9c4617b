import type { Snapshot } from '../config/snapshot.js';
import type { InboundRequest } from '../proxy/access.js';
import { clientAddress } from '../proxy/clientIp.js';

/** envoy.service.auth.v3.CheckRequest as proto-loader decodes it (the fields keygate reads). */
export interface CheckRequestMessage {
  readonly attributes?: {
    readonly source?: { readonly address?: { readonly socket_address?: { readonly address?: string } } };
    readonly request?: { readonly http?: HttpRequestMessage };
  };
}

interface HttpRequestMessage {
  readonly id?: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly header_map?: {
    readonly headers?: readonly { readonly key?: string; readonly value?: string; readonly raw_value?: Uint8Array }[];
  };
  readonly path?: string;
  readonly host?: string;
}

/** A CheckRequest read into what the opening decides on, or why it is not a request at all (INVALID_ARGUMENT). */
export type CheckRead =
  | {
      readonly ok: true;
      readonly inbound: InboundRequest;
      readonly requestId: string | undefined;
      /** Names and values of the request's headers: what `limits.headers` bounds. */
      readonly headerBytes: number;
    }
  | { readonly ok: false; readonly detail: string };

const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** RFC 9110 §5.5: no CR, LF or NUL in a field value. */
const BAD_VALUE = /[\r\n\0]/;

/**
 * The client's request as Envoy describes it: method, path with query, host, headers
 * (the merged `headers` map, or `header_map` when Envoy's `encode_raw_headers` is on) and
 * the downstream address from `attributes.source` (the gRPC peer when absent). Pseudo-headers
 * are left out: `host` and `path` say the same. Through `trustedProxies` like any entry point.
 */
export function readCheckRequest(msg: CheckRequestMessage, peer: string, trusted: Snapshot['listen']['trustedProxies']): CheckRead {
  const http = msg.attributes?.request?.http;
  if (!http) return { ok: false, detail: 'attributes.request.http is missing' };
  const method = http.method ?? '';
  if (!METHOD_TOKEN.test(method)) return { ok: false, detail: 'attributes.request.http.method is not an HTTP method' };
  const path = http.path ?? '';
  if (path === '') return { ok: false, detail: 'attributes.request.http.path is missing' };
  const pairs = headerPairs(http);
  const headers: Record<string, string[]> = {};
  const rawHeaders: string[] = [];
  let headerBytes = path.length + method.length;
  for (const [name, value] of pairs) {
    if (name.startsWith(':')) continue;
    if (!HEADER_NAME.test(name)) return { ok: false, detail: 'a header name is not a lower-case HTTP token' };
    if (BAD_VALUE.test(value)) return { ok: false, detail: `header ${name} has a CR, LF or NUL in its value` };
    (headers[name] ??= []).push(value);
    rawHeaders.push(name, value);
    headerBytes += name.length + value.length + 4;
  }
  const source = msg.attributes?.source?.address?.socket_address?.address || peerAddress(peer);
  const inbound: InboundRequest = {
    method,
    target: path,
    host: http.host || undefined,
    headers,
    rawHeaders,
    mode: 'check',
    removesHeaders: true, // Envoy applies headers_to_remove
    clientIp: clientAddress(source, headers['x-forwarded-for'], trusted),
  };
  return { ok: true, inbound, requestId: headers['x-request-id']?.[0] ?? (http.id || undefined), headerBytes };
}

function headerPairs(http: HttpRequestMessage): [string, string][] {
  const listed = http.header_map?.headers;
  if (listed && listed.length > 0) {
    return listed.map((h) => [h.key ?? '', h.value || (h.raw_value ? Buffer.from(h.raw_value).toString('latin1') : '')]);
  }
  return Object.entries(http.headers ?? {});
}

/** grpc-js names a peer `ipv4:1.2.3.4:5678` or `ipv6:[::1]:5678`. */
function peerAddress(peer: string): string | undefined {
  const m = /^(?:ipv4:|ipv6:)?\[?([^\]]+?)\]?:\d+$/.exec(peer);
  return m ? m[1] : undefined;
}
