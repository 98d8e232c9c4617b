import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO } from './config.js';
import { authzClient, type AuthzClient } from './grpcClient.js';
import { httpExchange } from './http.js';

/**
 * Models of the three front proxies in front of keygate's decision API, configured
 * from the files in deploy/ (so a change there that opens a hole fails the shared
 * security suite). Each does what its proxy documents: build the check request,
 * then on 2xx forward the client's request with the answer's headers applied, and
 * otherwise answer the client as that proxy would. The real nginx is exercised in
 * nginx-auth-request.test.ts; these models let every entry point run everywhere.
 */
export type Dialect = 'envoy' | 'nginx' | 'traefik';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  readonly path?: string;
  /** An object, or a flat [name, value, …] list (keeps odd spellings such as X_Keygate_User). */
  readonly headers?: OutgoingHttpHeaders | string[];
  readonly body?: string | Buffer;
}

/** node:http with the path sent exactly as given (fetch and URL would normalise it). */
export function send(origin: string, options: SendOptions = {}): Promise<HttpAnswer> {
  const url = new URL(origin);
  const headers = withHost(options.headers, url.host);
  return httpExchange(
    { host: url.hostname, port: url.port, method: options.method ?? 'GET', path: options.path ?? '/', headers },
    options.body,
  );
}

/** Node adds Host for an object of headers but not for a flat list (and then the server says 400). */
function withHost(headers: SendOptions['headers'], host: string): SendOptions['headers'] {
  if (!Array.isArray(headers)) return headers;
  return headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host') ? headers : ['Host', host, ...headers];
}

// ---- what deploy/ configures ------------------------------------------------------

type Json = Record<string, unknown>;

export function readYaml(relative: string): Json {
  return parse(readFileSync(join(REPO, relative), 'utf8')) as Json;
}

/** Every document of a multi-document file; throws on the first YAML error. */
export function readYamlDocuments(relative: string): Json[] {
  return parseAllDocuments(readFileSync(join(REPO, relative), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${relative}: ${d.errors[0].message}`);
    return d.toJSON() as Json;
  });
}

/** Follows a path of keys and array indexes; throws with the path when the file's shape changed. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !(key in v)) throw new Error(`deploy file has no ${path.join('.')}`);
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

export interface EnvoyAuthz {
  /** Client headers sent to keygate besides the ones Envoy always sends. */
  readonly allowedHeaders: readonly { exact?: string; prefix?: string }[];
  readonly allowedUpstreamHeaders: readonly string[];
  readonly pathPrefix: string | undefined;
  readonly filter: Json;
}

export function envoyAuthz(): EnvoyAuthz {
  const envoy = readYaml('deploy/envoy/envoy.yaml');
  const hcm = at(envoy, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config');
  const filters = at(hcm, 'http_filters') as Json[];
  const filter = at(
    filters.find((f) => f.name === 'envoy.filters.http.ext_authz'),
    'typed_config',
  ) as Json;
  const upstream = at(filter, 'http_service', 'authorization_response', 'allowed_upstream_headers', 'patterns') as { exact: string }[];
  const service = at(filter, 'http_service') as Json;
  return {
    allowedHeaders: at(filter, 'allowed_headers', 'patterns') as { exact?: string; prefix?: string }[],
    allowedUpstreamHeaders: upstream.map((p) => p.exact.toLowerCase()),
    pathPrefix: service.path_prefix as string | undefined,
    filter,
  };
}

export interface TraefikForwardAuth {
  readonly address: string;
  readonly authRequestHeaders: readonly string[];
  readonly authResponseHeaders: readonly string[];
  readonly authResponseHeadersRegex: RegExp | undefined;
  /** Headers the chained `headers` middleware removes (customRequestHeaders set to ""). */
  readonly stripped: readonly string[];
}

export function traefikForwardAuth(): TraefikForwardAuth {
  const middlewares = at(readYaml('deploy/traefik/dynamic.yaml'), 'http', 'middlewares') as Json;
  const fa = at(middlewares, 'keygate', 'forwardAuth') as Json;
  const custom = at(middlewares, 'keygate-strip-key', 'headers', 'customRequestHeaders') as Record<string, string>;
  const regex = fa.authResponseHeadersRegex as string | undefined;
  return {
    address: fa.address as string,
    authRequestHeaders: (fa.authRequestHeaders as string[]).map((h) => h.toLowerCase()),
    authResponseHeaders: (fa.authResponseHeaders as string[]).map((h) => h.toLowerCase()),
    authResponseHeadersRegex: regex === undefined ? undefined : goRegex(regex),
    stripped: Object.entries(custom)
      .filter(([, v]) => v === '')
      .map(([k]) => k.toLowerCase()),
  };
}

/** Go's `(?i)` prefix as a JavaScript flag. */
function goRegex(source: string): RegExp {
  return source.startsWith('(?i)') ? new RegExp(source.slice(4), 'i') : new RegExp(source);
}

export interface NginxSnippet {
  readonly text: string;
  /** `proxy_set_header` at server level (what proxied locations send upstream). */
  readonly upstreamHeaders: readonly [string, string][];
  /** `proxy_set_header` inside `location = /_keygate` (what the check request carries). */
  readonly checkHeaders: readonly [string, string][];
  /** `auth_request_set $var $upstream_http_x;` as var → response header name. */
  readonly fromAnswer: ReadonlyMap<string, string>;
}

export function nginxSnippet(): NginxSnippet {
  const text = readFileSync(join(REPO, 'deploy/nginx/keygate.conf'), 'utf8').replace(/#.*$/gm, '');
  const start = text.indexOf('location = /_keygate');
  const end = text.indexOf('}', start);
  const inside = text.slice(start, end);
  const outside = text.slice(0, start) + text.slice(text.indexOf('}', start) + 1).replace(/location @keygate_error[^]*?\n}/, '');
  const fromAnswer = new Map<string, string>();
  for (const m of text.matchAll(/auth_request_set\s+\$(\w+)\s+\$upstream_http_(\w+)\s*;/g)) fromAnswer.set(m[1], m[2].replaceAll('_', '-'));
  return { text, upstreamHeaders: setHeaders(outside), checkHeaders: setHeaders(inside), fromAnswer };
}

function setHeaders(block: string): [string, string][] {
  return [...block.matchAll(/proxy_set_header\s+(\S+)\s+("[^"]*"|\S+)\s*;/g)].map((m) => [
    m[1].toLowerCase(),
    m[2].replace(/^"(.*)"$/, '$1'),
  ]);
}

// ---- the models -------------------------------------------------------------------

export interface Front {
  readonly url: string;
  close(): Promise<void>;
}

type Headers = Record<string, string | string[]>;

interface CheckCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
}

interface Model {
  /** The client's headers as the proxy itself keeps them (some drop `_` spellings). */
  accept(headers: Headers): Headers;
  check(req: IncomingMessage, headers: Headers, peer: string): CheckCall;
  /** The request headers the upstream gets after a 2xx answer. */
  upstream(headers: Headers, answer: HttpAnswer, req: IncomingMessage, peer: string): Headers;
  /** What the client gets for a non-2xx answer. */
  denied(answer: HttpAnswer): HttpAnswer;
}

export async function startFront(dialect: Dialect, checkOrigin: string, upstreamOrigin: string): Promise<Front> {
  const model = MODELS[dialect]();
  const server = createServer((req, res) => {
    void handle(model, req, checkOrigin, upstreamOrigin).then(
      (a) => {
        res.writeHead(a.status, withoutHopByHop(a.headers));
        res.end(a.body);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => closeServer(server) };
}

async function handle(model: Model, req: IncomingMessage, checkOrigin: string, upstreamOrigin: string): Promise<HttpAnswer> {
  const body = await readBody(req);
  const headers = model.accept(clientHeaders(req));
  const call = model.check(req, headers, req.socket.remoteAddress ?? '');
  const answer = await send(checkOrigin, call);
  if (answer.status < 200 || answer.status > 299) return model.denied(answer);
  return send(upstreamOrigin, {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: model.upstream(headers, answer, req, req.socket.remoteAddress ?? ''),
    body,
  });
}

/** deploy/envoy/envoy-grpc.yaml's ext_authz filter and the keygate_grpc cluster (throws when their shape changed). */
export function envoyGrpcAuthz(): { filter: Json; cluster: Json; hcm: Json } {
  const envoy = readYaml('deploy/envoy/envoy-grpc.yaml');
  const hcm = at(envoy, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Json;
  const filters = at(hcm, 'http_filters') as Json[];
  const filter = at(
    filters.find((f) => f.name === 'envoy.filters.http.ext_authz'),
    'typed_config',
  ) as Json;
  const name = at(filter, 'grpc_service', 'envoy_grpc', 'cluster_name') as string;
  const cluster = (at(envoy, 'static_resources', 'clusters') as Json[]).find((c) => c.name === name);
  if (!cluster) throw new Error(`deploy/envoy/envoy-grpc.yaml has no cluster ${name}`);
  return { filter, cluster, hcm };
}

/**
 * Envoy with keygate as its gRPC ext_authz service (deploy/envoy/envoy-grpc.yaml): every
 * client header goes into the CheckRequest (repeats merged with ","), with the client
 * address as attributes.source; an OK answer's header options are applied (replacing,
 * as `append: false` says) and headers_to_remove removed; a denial is answered with the
 * DeniedHttpResponse's status, headers and body.
 */
export async function startGrpcFront(grpcTarget: string, upstreamOrigin: string): Promise<Front> {
  const cfg = envoyGrpcAuthz();
  if (cfg.filter.failure_mode_allow !== false) throw new Error('envoy-grpc.yaml must fail closed');
  const client = authzClient(grpcTarget);
  const server = createServer((req, res) => {
    void grpcExchange(client, req, upstreamOrigin).then(
      (a) => {
        res.writeHead(a.status, withoutHopByHop(a.headers));
        res.end(a.body);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      client.close();
      await closeServer(server);
    },
  };
}

async function grpcExchange(client: AuthzClient, req: IncomingMessage, upstreamOrigin: string): Promise<HttpAnswer> {
  const body = await readBody(req);
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const h = dropUnderscored(clientHeaders(req)); // headers_with_underscores_action: DROP_HEADER
  const kept: Headers = { ...h, 'x-forwarded-for': appendXff(h, peer) }; // use_remote_address
  const { host, ...rest } = kept;
  const merged = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, [v].flat().join(',')]));
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  const answer = await client.check(
    { method, path, host: String(host ?? ''), headers: { ...merged, ':authority': String(host ?? ''), ':method': method, ':path': path } },
    peer,
  );
  if (answer.status?.code !== 0) {
    const denied = answer.denied_response;
    const headers = Object.fromEntries((denied?.headers ?? []).map((o) => [o.header!.key, o.header!.value]));
    return { status: denied?.status?.code ?? 403, headers, body: denied?.body ?? '' };
  }
  const ok = answer.ok_response ?? {};
  const out: Headers = { ...kept };
  for (const o of ok.headers ?? []) {
    const { key, value } = o.header!;
    const replace = o.append?.value === false || o.append_action === 2;
    const prev = out[key];
    out[key] = replace || prev === undefined ? value : [...[prev].flat(), value];
  }
  for (const name of ok.headers_to_remove ?? []) delete out[name];
  return send(upstreamOrigin, { method, path, headers: { ...out, 'x-forwarded-proto': 'http' }, body });
}

const MODELS: Record<Dialect, () => Model> = { envoy: envoyModel, nginx: nginxModel, traefik: traefikModel };

/** Envoy ext_authz HTTP service, as deploy/envoy/envoy.yaml configures it. */
function envoyModel(): Model {
  const cfg = envoyAuthz();
  const allowed = (name: string): boolean =>
    ['authorization', 'host'].includes(name) ||
    cfg.allowedHeaders.some((p) => p.exact === name || (p.prefix !== undefined && name.startsWith(p.prefix)));
  return {
    accept: (h) => dropUnderscored(h), // headers_with_underscores_action: DROP_HEADER
    check: (req, h, peer) => ({
      method: req.method ?? 'GET',
      path: (cfg.pathPrefix ?? '') + (req.url ?? '/'),
      // use_remote_address: Envoy appends the peer to X-Forwarded-For before filters run
      headers: { ...pick({ ...h, 'x-forwarded-for': appendXff(h, peer) }, allowed), 'content-length': '0' },
    }),
    upstream: (h, answer) => {
      const out = { ...h };
      for (const name of cfg.allowedUpstreamHeaders) {
        const v = answer.headers[name];
        if (typeof v === 'string') out[name] = v;
      }
      for (const name of String(answer.headers['x-envoy-auth-headers-to-remove'] ?? '').split(',')) delete out[name.trim()];
      // use_remote_address: Envoy is the edge and sets X-Forwarded-Proto itself
      return { ...out, 'x-forwarded-proto': 'http' };
    },
    denied: (answer) => answer,
  };
}

/** nginx auth_request with deploy/nginx/keygate.conf included in the server block. */
function nginxModel(): Model {
  const cfg = nginxSnippet();
  return {
    accept: (h) => dropUnderscored(h), // underscores_in_headers off (the default)
    check: (req, h, peer) => ({
      method: 'GET', // a subrequest
      path: '/_keygate',
      // Host is nginx's default $proxy_host: keygate's own address, never the client's
      headers: applySetHeaders(
        pick(h, (n) => n !== 'host'),
        cfg.checkHeaders,
        (v) => nginxVariable(v, req, h, peer),
      ),
    }),
    upstream: (h, answer, req, peer) =>
      applySetHeaders(h, cfg.upstreamHeaders, (v) => {
        const header = cfg.fromAnswer.get(v);
        if (header === undefined) return nginxVariable(v, req, h, peer);
        const value = answer.headers[header];
        return typeof value === 'string' ? value : '';
      }),
    // 401 and 403 pass (with WWW-Authenticate); 400, 404 and 405 via error_page @keygate_error; else 500.
    denied: (answer) => {
      const status = [400, 401, 403, 404, 405].includes(answer.status) ? answer.status : 500;
      const auth = answer.headers['www-authenticate'];
      return {
        status,
        headers: { 'content-type': 'text/html', ...(status === 401 && auth ? { 'www-authenticate': auth } : {}) },
        body: `<html>${status}</html>`,
      };
    },
  };
}

function nginxVariable(name: string, req: IncomingMessage, h: Headers, peer: string): string {
  switch (name) {
    case 'request_uri':
      return req.url ?? '/';
    case 'request_method':
      return req.method ?? 'GET';
    case 'host':
      return String(h.host ?? '').replace(/:\d+$/, '');
    case 'proxy_add_x_forwarded_for':
      return appendXff(h, peer);
    case 'remote_addr':
      return peer.replace(/^::ffff:/, '');
    case 'scheme':
      return 'http';
    default:
      throw new Error(`nginx model: unknown variable $${name}`);
  }
}

/** `proxy_set_header` semantics: a client header of the same name is replaced; "" means not sent. */
function applySetHeaders(h: Headers, sets: readonly [string, string][], variable: (name: string) => string): Headers {
  const out = { ...h };
  for (const [name, template] of sets) {
    const value = template.replace(/\$(\w+)/g, (_, v: string) => variable(v));
    if (value === '') delete out[name];
    else out[name] = value;
  }
  delete out['content-length'];
  return out;
}

/** Traefik ForwardAuth plus the headers middleware, as deploy/traefik/dynamic.yaml chains them. */
function traefikModel(): Model {
  const cfg = traefikForwardAuth();
  const address = new URL(cfg.address);
  return {
    accept: (h) => h,
    check: (req, h, peer) => ({
      method: 'GET',
      path: address.pathname,
      headers: {
        ...pick(h, (n) => cfg.authRequestHeaders.length === 0 || cfg.authRequestHeaders.includes(n)),
        'x-forwarded-method': req.method ?? 'GET',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': String(h.host ?? ''),
        'x-forwarded-uri': req.url ?? '/',
        'x-forwarded-for': peer.replace(/^::ffff:/, ''), // trustForwardHeader: false
      },
    }),
    upstream: (h, answer, _req, peer) => {
      const out = { ...h };
      for (const name of cfg.authResponseHeaders) {
        delete out[name];
        const v = answer.headers[name];
        if (typeof v === 'string') out[name] = v;
      }
      const regex = cfg.authResponseHeadersRegex;
      if (regex) {
        for (const name of Object.keys(out)) if (regex.test(name)) delete out[name];
        for (const [name, v] of Object.entries(answer.headers)) if (regex.test(name) && typeof v === 'string') out[name] = v;
      }
      for (const name of cfg.stripped) delete out[name];
      // Traefik's own forwarding headers, a client's copies replaced (trustForwardHeader: false)
      return { ...out, 'x-real-ip': peer.replace(/^::ffff:/, ''), 'x-forwarded-host': String(h.host ?? ''), 'x-forwarded-proto': 'http' };
    },
    denied: (answer) => answer,
  };
}

// ---- small pieces -----------------------------------------------------------------

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']);

function clientHeaders(req: IncomingMessage): Headers {
  const out: Headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? req.rawHeaders[i + 1] : [...(Array.isArray(prev) ? prev : [prev]), req.rawHeaders[i + 1]];
  }
  return out;
}

function withoutHopByHop(h: HttpAnswer['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'content-length') out[k] = v;
  return out;
}

function dropUnderscored(h: Headers): Headers {
  return pick(h, (n) => !n.includes('_'));
}

function pick(h: Headers, keep: (name: string) => boolean): Headers {
  return Object.fromEntries(Object.entries(h).filter(([n]) => keep(n)));
}

function appendXff(h: Headers, peer: string): string {
  const prior = h['x-forwarded-for'];
  const ip = peer.replace(/^::ffff:/, '');
  return prior === undefined ? ip : `${[prior].flat().join(', ')}, ${ip}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
