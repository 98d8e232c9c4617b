import { resolve, dirname } from 'node:path';
import { isMap } from 'yaml';
import { parseCidr } from '../policy/cidr.js';
import { STANDARD_METHODS } from '../policy/methods.js';
import { hostName, normalizePrefix, parseHost } from '../policy/route.js';
import { parseRate, type RateLimit } from '../policy/rateLimits.js';
import { readLimit } from './rateLimitReader.js';
import { directorySource } from './keysDirectory.js';
import { readListener } from './listenerReader.js';
import { readRequestRules, REQUEST_RULE_FIELDS } from './requestRules.js';
import { readAssertion, type AssertionDraft } from './assertionReader.js';
import type { CheckDialect, ListenAddress, RequestRules, TokenSource, UpstreamProtocol } from './snapshot.js';
import { parseDuration, parseListenAddress, parseSize } from '../reader/values.js';
import type { Field, YamlReader, YNode } from '../reader/yamlReader.js';

export interface MainConfig {
  region: string;
  listen: {
    proxy: ListenAddress;
    admin: ListenAddress;
    check?: ListenAddress;
    checkDialect: CheckDialect;
    grpc?: ListenAddress;
    trustedProxies: string[];
  };
  services: ServiceDraft[];
  declaredServices: string[];
  /** Methods beyond RFC 9110's that rules may name, for APIs with custom methods (PURGE, PROPFIND, …). */
  extraMethods: string[];
  policy: string;
  keys: string[];
  limits: { body?: number; headers: number };
  shutdown: { delay: number; timeout: number };
  reload: { interval: number; debounce: number };
  log: { level: string; access: boolean };
  metrics: { perKeyLabels: boolean };
  rateLimiting: RateLimiting;
  /** A candidate policy and/or keys judged beside the live ones on every request (never answering it). */
  shadow?: ShadowFiles;
  state: StateSettings;
}

/** keygate.yaml `shadow`: the candidate's files, resolved; an absent one means "the live one". */
export interface ShadowFiles {
  readonly policy?: string;
  readonly keys?: readonly string[];
}

/** keygate.yaml `state`: where a proxy keeps what it learns while running (key usage). */
export interface StateSettings {
  /** Absolute; default `.keygate-state/` beside keygate.yaml. */
  readonly dir: string;
  /** false: the default, which may sit in a read-only config directory (a warning, never an error). */
  readonly configured: boolean;
}

/** keygate.yaml `rateLimiting`: where buckets live, the failed-authentication limit, headers. */
export interface RateLimiting {
  readonly backend: 'memory' | 'redis';
  readonly redis?: RedisSettings;
  /** `RateLimit` / `RateLimit-Policy` headers on answers a limit applies to. */
  readonly headers: boolean;
  /** Failed authentications per client address; undefined = off. */
  readonly failedAuth?: RateLimit;
}

export interface RedisSettings {
  /** redis://host:port/db; may carry a password, so it is never logged. */
  readonly url: string;
  /** Every Redis key keygate writes starts with this. */
  readonly prefix: string;
  /** Longest wait for one Redis answer before the `onError` policy applies (ms). */
  readonly timeout: number;
  readonly onError: 'failOpen' | 'failClosed';
}

export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface ServiceDraft {
  name: string;
  host?: string;
  pathPrefix?: string;
  stripPrefix: boolean;
  allowSemicolon: boolean;
  allowEmptySegments: boolean;
  caseInsensitive: boolean;
  upstream: URL;
  protocol: UpstreamProtocol;
  /** `at`: where the token source is named in keygate.yaml, for errors found when it is read. */
  token: { header: string; scheme: string; source: TokenSource; at: SourcePosition };
  timeouts: { connect: number; response: number; idle: number };
  /** Streamed responses (and upgraded connections) of a key that loses access are closed on reload. */
  terminateStreamsOnRevoke: boolean;
  requests: RequestRules;
  assertion?: AssertionDraft;
}

const TOP = ['region', 'listen', 'services', 'extraMethods', 'policy', 'keys', 'limits', 'shutdown', 'reload', 'log', 'metrics', 'rateLimiting', 'shadow', 'state'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HEADER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const METHOD_TOKEN = HEADER; // both are RFC 9110 tokens
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DEFAULTS = {
  proxy: '0.0.0.0:8080',
  admin: '127.0.0.1:9090',
  headers: 16 * 1024,
  connect: 2_000,
  response: 30_000,
  idle: 60_000,
  shutdownDelay: 0,
  shutdownTimeout: 30_000,
  reloadInterval: 10_000,
  reloadDebounce: 100,
  /** Failed authentications per client address before it gets 429. */
  failedAuth: { rate: '20/m', burst: 20 },
  redisPrefix: 'keygate:',
  redisTimeout: 50,
  stateDir: '.keygate-state',
};

/** Reads keygate.yaml. Paths it names are resolved against its own directory. */
export function readMainFile(r: YamlReader): MainConfig | undefined {
  const f = r.map(r.root, 'keygate.yaml', TOP, ['region', 'services', 'policy', 'keys']);
  if (!f) return undefined;
  const base = dirname(r.file);
  const serviceNodes = r.list(f.get('services')?.value, 'services');
  const services = serviceNodes.map((n) => readService(r, n, base));
  checkUniqueNames(r, services, f.get('services')?.value);
  const policy = r.string(f.get('policy')?.value, 'policy');
  const config: MainConfig = {
    region: r.string(f.get('region')?.value, 'region') ?? '',
    listen: readListen(r, f.get('listen')?.value, base),
    services: services.filter((s): s is ServiceDraft => s !== undefined),
    declaredServices: declaredNames(r, serviceNodes),
    extraMethods: readExtraMethods(r, f.get('extraMethods')?.value),
    policy: resolve(base, policy ?? ''),
    // A trailing slash names a keys directory (config/keysDirectory.ts), and is kept.
    keys: keysSources(r.strings(f.get('keys')?.value, 'keys') ?? [], base),
    limits: readLimits(r, f.get('limits')?.value),
    shutdown: readDurations(r, f.get('shutdown')?.value, 'shutdown', { delay: DEFAULTS.shutdownDelay, timeout: DEFAULTS.shutdownTimeout }),
    reload: readDurations(r, f.get('reload')?.value, 'reload', { interval: DEFAULTS.reloadInterval, debounce: DEFAULTS.reloadDebounce }),
    log: readLog(r, f.get('log')?.value),
    metrics: { perKeyLabels: readFlag(r, f.get('metrics')?.value, 'metrics', 'perKeyLabels') },
    rateLimiting: readRateLimiting(r, f.get('rateLimiting')?.value),
    state: readState(r, f.get('state')?.value, base),
  };
  const shadow = readShadow(r, f.get('shadow')?.value, base);
  if (shadow) config.shadow = shadow;
  if (f.has('services') && services.length === 0) r.error(f.get('services')?.value, 'services must list at least one service');
  return policy === undefined ? undefined : config; // without a policy file there is nothing more to check
}

/** A trailing slash names a keys directory (config/keysDirectory.ts), and is kept. */
function keysSources(entries: readonly string[], base: string): string[] {
  return entries.map((k) => (k.endsWith('/') ? directorySource(resolve(base, k)) : resolve(base, k)));
}

/**
 * `shadow: { policy, keys }`: which files make the candidate. The block itself is part of
 * keygate.yaml (a typo here is a keygate.yaml error); the candidate files it names are
 * validated on their own, and an invalid candidate never blocks the live config.
 */
function readShadow(r: YamlReader, node: YNode, base: string): ShadowFiles | undefined {
  if (node == null) return undefined;
  const f = r.map(node, 'shadow', ['policy', 'keys']);
  if (!f) return undefined;
  if (f.size === 0) return r.error(node, 'shadow names no candidate: give it "policy", "keys" or both');
  const policy = f.has('policy') ? r.string(f.get('policy')!.value, 'shadow.policy') : undefined;
  const keys = f.has('keys') ? r.strings(f.get('keys')!.value, 'shadow.keys') : undefined;
  return {
    ...(policy !== undefined ? { policy: resolve(base, policy) } : {}),
    ...(keys !== undefined ? { keys: keysSources(keys, base) } : {}),
  };
}

function readExtraMethods(r: YamlReader, node: YNode): string[] {
  const entries = node == null ? [] : r.stringNodes(node, 'extraMethods') ?? [];
  return entries.filter((m) => {
    if (!METHOD_TOKEN.test(m.value)) return r.error(m.node, `extraMethods: "${m.value}" is not an HTTP method token (RFC 9110)`) ?? false;
    if (STANDARD_METHODS.includes(m.value) || m.value === 'read' || m.value === 'write') r.warn(m.node, `extraMethods: "${m.value}" is already known; list only custom methods`);
    return true;
  }).map((m) => m.value);
}

/** Every listed service name, valid service or not, so rules naming a broken service are not errors too. */
function declaredNames(r: YamlReader, nodes: readonly YNode[]): string[] {
  return nodes.flatMap((n) => {
    const node = r.resolve(n);
    const name: unknown = isMap(node) ? node.get('name') : undefined;
    return typeof name === 'string' ? [name] : [];
  });
}

function readListen(r: YamlReader, node: YNode, base: string): MainConfig['listen'] {
  const f = node == null ? new Map<string, Field>() : r.map(node, 'listen', ['proxy', 'admin', 'check', 'grpc', 'trustedProxies']) ?? new Map<string, Field>();
  const listener = (name: string, fallback: string): ListenAddress | undefined => {
    const n = f.get(name)?.value;
    if (n == null) return { ...(parseListenAddress(fallback) as { host: string; port: number }), text: fallback };
    return readListener(r, n, `listen.${name}`, base).address;
  };
  const trustedNodes = r.stringNodes(f.get('trustedProxies')?.value, 'listen.trustedProxies') ?? [];
  const trusted = trustedNodes.filter((c) => {
    const p = parseCidr(c.value);
    return 'error' in p ? r.error(c.node, `listen.trustedProxies: ${p.error}`) ?? false : true;
  }).map((c) => c.value);
  const checkField = readCheck(r, f.get('check'), base);
  const grpc = readGrpc(r, f.get('grpc')?.value, base); // the Envoy gRPC ext_authz service; off unless set
  const fallbackProxy = parseListenAddress(DEFAULTS.proxy) as { host: string; port: number };
  return {
    proxy: listener('proxy', DEFAULTS.proxy) ?? { ...fallbackProxy, text: DEFAULTS.proxy },
    admin: listener('admin', DEFAULTS.admin) ?? { host: '127.0.0.1', port: 9090, text: DEFAULTS.admin },
    ...(checkField?.address ? { check: checkField.address } : {}),
    checkDialect: checkField?.dialect ?? 'auto',
    ...(grpc ? { grpc } : {}),
    trustedProxies: trusted,
  };
}

/** `listen.grpc`: `host:port`, or the object form `{ address }`; plaintext HTTP/2 only for now. */
function readGrpc(r: YamlReader, node: YNode, base: string): ListenAddress | undefined {
  if (node == null) return undefined;
  const address = readListener(r, node, 'listen.grpc', base).address;
  if (address?.tls) return r.error(node, 'listen.grpc serves plaintext HTTP/2 only: no tls (put it on a private network, or let the mesh add mTLS)');
  return address;
}

const CHECK_DIALECTS: readonly CheckDialect[] = ['envoy', 'nginx', 'traefik', 'auto'];

/**
 * `listen.check`: an address (dialect `auto`, with a warning), or `{ address, dialect, tls }`.
 * Pinned, the decision API never reads another dialect's headers, so a client header that
 * the front proxy lets through cannot choose which path is checked.
 */
function readCheck(r: YamlReader, field: Field | undefined, base: string): { address: ListenAddress | undefined; dialect: CheckDialect } | undefined {
  if (!field) return undefined;
  const read = readListener(r, field.value, 'listen.check', base, ['dialect']);
  if (!read.objectForm) {
    r.warn(field.value, 'listen.check has no dialect: the front proxy is recognised per request from its headers, so a client header it lets through could choose the dialect and the path checked; write `check: { address: …, dialect: envoy | nginx | traefik }` (or `dialect: auto` to keep this)');
    return { address: read.address, dialect: 'auto' };
  }
  const dialectNode = read.fields.get('dialect')?.value;
  const text = dialectNode !== undefined ? r.string(dialectNode, 'listen.check.dialect') : 'auto';
  const dialect = CHECK_DIALECTS.find((d) => d === text);
  if (!dialect && text !== undefined) r.error(dialectNode, `listen.check.dialect must be one of ${CHECK_DIALECTS.join(', ')}`);
  return { address: read.address, dialect: dialect ?? 'auto' };
}

const SERVICE_FIELDS = ['name', 'route', 'upstream', 'protocol', 'serviceToken', 'timeouts', 'terminateStreamsOnRevoke', 'assertion', ...REQUEST_RULE_FIELDS];

function readService(r: YamlReader, node: YNode, base: string): ServiceDraft | undefined {
  const f = r.map(node, 'a service', SERVICE_FIELDS, ['name', 'upstream']);
  if (!f) return undefined;
  const name = r.string(f.get('name')?.value, 'service name');
  if (name !== undefined && !NAME.test(name)) r.error(f.get('name')?.value, `service name "${name}" must be lower-case letters, digits, "-" or "_"`);
  const upstream = readUpstream(r, f.get('upstream')?.value);
  const protocol = readProtocol(r, f.get('protocol')?.value);
  const route = readRoute(r, f.get('route')?.value);
  const token = readToken(r, f.get('serviceToken')?.value, base);
  const t = readDurations(r, f.get('timeouts')?.value, 'timeouts', { connect: DEFAULTS.connect, response: DEFAULTS.response, idle: DEFAULTS.idle });
  const requests = readRequestRules(r, f);
  const terminateNode = f.get('terminateStreamsOnRevoke')?.value;
  const terminateStreamsOnRevoke = terminateNode == null ? true : r.boolean(terminateNode, 'terminateStreamsOnRevoke');
  const assertionNode = f.get('assertion')?.value;
  const assertion = assertionNode == null ? undefined : readAssertion(r, assertionNode, base, name, token?.header);
  if (name === undefined || !upstream || !route || !token || !protocol || terminateStreamsOnRevoke === undefined) return undefined;
  if (assertionNode != null && !assertion) return undefined;
  return { name, ...route, upstream, protocol, token, timeouts: t, terminateStreamsOnRevoke, requests, ...(assertion ? { assertion } : {}) };
}

const PROTOCOLS: readonly UpstreamProtocol[] = ['http1', 'h2', 'grpc'];

/** `protocol`: http1 (default), or h2 / grpc: HTTP/2 to the upstream (h2c for http://, ALPN h2 for https://). */
function readProtocol(r: YamlReader, node: YNode): UpstreamProtocol | undefined {
  if (node == null) return 'http1';
  const text = r.string(node, 'protocol');
  const protocol = PROTOCOLS.find((p) => p === text);
  if (!protocol && text !== undefined) r.error(node, `protocol "${text}" must be one of ${PROTOCOLS.join(', ')}`);
  return protocol;
}

function readUpstream(r: YamlReader, node: YNode): URL | undefined {
  const text = r.string(node, 'upstream');
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return r.error(node, `upstream "${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return r.error(node, `upstream "${text}" must be http:// or https://`);
  if (url.search || url.hash || url.username) return r.error(node, `upstream "${text}" must not have a query, fragment or credentials`);
  return url;
}

const ROUTE_FLAGS = ['stripPrefix', 'allowSemicolon', 'allowEmptySegments', 'caseInsensitive'] as const;
type RouteFields = Pick<ServiceDraft, 'host' | 'pathPrefix' | (typeof ROUTE_FLAGS)[number]>;

function readRoute(r: YamlReader, node: YNode): RouteFields | undefined {
  if (node == null) return { stripPrefix: false, allowSemicolon: false, allowEmptySegments: false, caseInsensitive: false };
  const f = r.map(node, 'route', ['host', 'pathPrefix', ...ROUTE_FLAGS]);
  if (!f) return undefined;
  const host = f.has('host') ? r.string(f.get('host')!.value, 'route.host') : undefined;
  if (host !== undefined && !parseHost(host)) r.error(f.get('host')!.value, `route.host "${host}" is not a host name`);
  const prefix = f.has('pathPrefix') ? r.string(f.get('pathPrefix')!.value, 'route.pathPrefix') : undefined;
  if (prefix !== undefined && (!prefix.startsWith('/') || /[?#%\\*{}]|\/\.\.?(\/|$)|\/\//.test(prefix))) {
    r.error(f.get('pathPrefix')!.value, `route.pathPrefix "${prefix}" must be a plain path starting with "/"`);
  }
  const flag = (name: (typeof ROUTE_FLAGS)[number]): boolean => (f.has(name) ? r.boolean(f.get(name)!.value, `route.${name}`) ?? false : false);
  return {
    ...(host !== undefined ? { host: hostName(host) } : {}),
    ...(prefix !== undefined ? { pathPrefix: normalizePrefix(prefix) } : {}),
    stripPrefix: flag('stripPrefix'),
    allowSemicolon: flag('allowSemicolon'),
    allowEmptySegments: flag('allowEmptySegments'),
    caseInsensitive: flag('caseInsensitive'),
  };
}

function readToken(r: YamlReader, node: YNode, base: string): ServiceDraft['token'] | undefined {
  if (node == null) return { header: 'authorization', scheme: 'Bearer', source: { kind: 'none' }, at: { file: r.file, ...r.position(node) } };
  const f = r.map(node, 'serviceToken', ['header', 'scheme', 'file', 'env']);
  if (!f) return undefined;
  const header = f.has('header') ? r.string(f.get('header')!.value, 'serviceToken.header') : 'Authorization';
  if (header !== undefined && !HEADER.test(header)) r.error(f.get('header')?.value, `serviceToken.header "${header}" is not a header name`);
  const scheme = f.has('scheme') ? r.string(f.get('scheme')!.value, 'serviceToken.scheme') ?? '' : 'Bearer';
  const file = f.has('file') ? r.string(f.get('file')!.value, 'serviceToken.file') : undefined;
  const env = f.has('env') ? r.string(f.get('env')!.value, 'serviceToken.env') : undefined;
  if (file !== undefined && env !== undefined) return r.error(node, 'serviceToken takes "file" or "env", not both');
  if (file === undefined && env === undefined) return r.error(node, 'serviceToken needs "file" or "env"');
  // Checked here, not when the token is read, so `check --offline` catches it without the secret.
  if (env !== undefined && !ENV_NAME.test(env)) return r.error(f.get('env')!.value, `serviceToken.env "${env}" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)`);
  if (file === '') return r.error(f.get('file')!.value, 'serviceToken.file is empty');
  const source: TokenSource = file !== undefined ? { kind: 'file', path: resolve(base, file) } : { kind: 'env', name: env! };
  const at = { file: r.file, ...r.position(f.get(file !== undefined ? 'file' : 'env')!.value) };
  return { header: (header ?? 'authorization').toLowerCase(), scheme, source, at };
}

function readLimits(r: YamlReader, node: YNode): MainConfig['limits'] {
  const f = node == null ? new Map<string, Field>() : r.map(node, 'limits', ['body', 'headers']) ?? new Map<string, Field>();
  const size = (name: string): number | undefined => {
    const n = f.get(name)?.value;
    if (n === undefined) return undefined;
    const parsed = parseSize(r.scalarText(n));
    return typeof parsed === 'number' ? parsed : r.error(n, `limits.${name}: ${parsed.error}`);
  };
  const body = size('body');
  return { ...(body !== undefined ? { body } : {}), headers: size('headers') ?? DEFAULTS.headers };
}

function readDurations<T extends Record<string, number>>(r: YamlReader, node: YNode, what: string, defaults: T): T {
  if (node == null) return { ...defaults };
  const f = r.map(node, what, Object.keys(defaults));
  const out: Record<string, number> = { ...defaults };
  for (const [name, field] of f ?? []) {
    const parsed = parseDuration(r.scalarText(field.value));
    if (typeof parsed === 'number') out[name] = parsed;
    else r.error(field.value, `${what}.${name}: ${parsed.error}`);
  }
  return out as T;
}

function readLog(r: YamlReader, node: YNode): MainConfig['log'] {
  const f = node == null ? new Map<string, Field>() : r.map(node, 'log', ['level', 'access']) ?? new Map<string, Field>();
  const level = f.has('level') ? r.string(f.get('level')!.value, 'log.level') ?? 'info' : 'info';
  if (!LOG_LEVELS.includes(level)) r.error(f.get('level')?.value, `log.level must be one of ${LOG_LEVELS.join(', ')}`);
  return { level, access: f.has('access') ? r.boolean(f.get('access')!.value, 'log.access') ?? true : true };
}

function readState(r: YamlReader, node: YNode, base: string): StateSettings {
  const fallback = { dir: resolve(base, DEFAULTS.stateDir), configured: false };
  if (node == null) return fallback;
  const f = r.map(node, 'state', ['dir']);
  const field = f?.get('dir');
  const dir = field ? r.string(field.value, 'state.dir') : undefined;
  if (dir === '') r.error(field?.value, 'state.dir is empty');
  return dir ? { dir: resolve(base, dir), configured: true } : fallback;
}

function readFlag(r: YamlReader, node: YNode, what: string, name: string): boolean {
  if (node == null) return false;
  const f = r.map(node, what, [name]);
  const field = f?.get(name);
  return field ? r.boolean(field.value, `${what}.${name}`) ?? false : false;
}

function checkUniqueNames(r: YamlReader, services: (ServiceDraft | undefined)[], node: YNode): void {
  const seen = new Set<string>();
  for (const s of services) {
    if (!s) continue;
    if (seen.has(s.name)) r.error(node, `service "${s.name}" is defined twice`);
    seen.add(s.name);
  }
}

function readRateLimiting(r: YamlReader, node: YNode): RateLimiting {
  const f = node == null ? new Map<string, Field>() : r.map(node, 'rateLimiting', ['backend', 'redis', 'headers', 'failedAuth']) ?? new Map<string, Field>();
  const backendNode = f.get('backend')?.value;
  const backend = backendNode === undefined ? 'memory' : r.string(backendNode, 'rateLimiting.backend');
  if (backend !== undefined && backend !== 'memory' && backend !== 'redis') r.error(backendNode, 'rateLimiting.backend must be "memory" or "redis"');
  const redisNode = f.get('redis')?.value;
  const redis = redisNode === undefined ? undefined : readRedis(r, redisNode);
  if (backend === 'redis' && redisNode === undefined) r.error(backendNode, 'rateLimiting.backend redis needs rateLimiting.redis.url');
  const headers = f.has('headers') ? r.boolean(f.get('headers')!.value, 'rateLimiting.headers') ?? true : true;
  return {
    backend: backend === 'redis' ? 'redis' : 'memory',
    ...(redis ? { redis } : {}),
    headers,
    ...readFailedAuth(r, f.get('failedAuth')?.value),
  };
}

/** `failedAuth: { rate, burst }`, or `off` (or `false`); absent = DEFAULTS.failedAuth. */
function readFailedAuth(r: YamlReader, node: YNode): Pick<RateLimiting, 'failedAuth'> {
  if (node !== undefined && node !== null && ['off', 'false'].includes(r.scalarText(node))) return {};
  if (node === undefined || node === null) {
    const d = DEFAULTS.failedAuth;
    const { perSecond } = parseRate(d.rate) as { perSecond: number };
    return { failedAuth: Object.freeze({ name: 'failed-auth', perSecond, burst: d.burst, rateText: d.rate }) };
  }
  const limit = readLimit(r, node, 'rateLimiting.failedAuth', 'failed-auth');
  return limit ? { failedAuth: limit } : {};
}

function readRedis(r: YamlReader, node: YNode): RedisSettings | undefined {
  const f = r.map(node, 'rateLimiting.redis', ['url', 'prefix', 'timeout', 'onError'], ['url']);
  if (!f) return undefined;
  const url = r.string(f.get('url')?.value, 'rateLimiting.redis.url');
  let parsed: URL | undefined;
  try {
    parsed = url === undefined ? undefined : new URL(url);
  } catch {
    parsed = undefined;
  }
  // The URL may hold a password: never repeat it in an error.
  if (url !== undefined && (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:'))) r.error(f.get('url')?.value, 'rateLimiting.redis.url must be a redis:// or rediss:// URL');
  const prefix = f.has('prefix') ? r.string(f.get('prefix')!.value, 'rateLimiting.redis.prefix') ?? DEFAULTS.redisPrefix : DEFAULTS.redisPrefix;
  const timeoutNode = f.get('timeout')?.value;
  const timeout = timeoutNode === undefined ? DEFAULTS.redisTimeout : parseDuration(r.scalarText(timeoutNode));
  if (typeof timeout !== 'number') r.error(timeoutNode, `rateLimiting.redis.timeout: ${timeout.error}`);
  else if (timeout < 1 || timeout > 10_000) r.error(timeoutNode, 'rateLimiting.redis.timeout must be between 1ms and 10s');
  const onErrorNode = f.get('onError')?.value;
  const onError = onErrorNode === undefined ? 'failOpen' : r.string(onErrorNode, 'rateLimiting.redis.onError');
  if (onError !== undefined && onError !== 'failOpen' && onError !== 'failClosed') r.error(onErrorNode, 'rateLimiting.redis.onError must be "failOpen" or "failClosed"');
  if (url === undefined || typeof timeout !== 'number') return undefined;
  return { url, prefix, timeout, onError: onError === 'failClosed' ? 'failClosed' : 'failOpen' };
}
