import { CREDENTIAL_HEADERS, DEFAULT_CREDENTIAL_SOURCES, type CredentialSources } from '../auth/credentials.js';
import type { MethodOverrideMode, RequestRules } from './snapshot.js';
import type { Field, YamlReader, YNode } from '../reader/yamlReader.js';

/** The service fields read here (keygate.yaml `services[]`). */
export const REQUEST_RULE_FIELDS = [
  'upgrades',
  'methodOverride',
  'methodOverrideInBody',
  'keepUrlOverrides',
  'forwardedHeader',
  'allowTrace',
  'credentials',
] as const;

/**
 * Headers with which a client could make Symfony, Laravel, IIS or Spring route a path
 * other than the one checked; removed unless a service keeps one (its own front sets it).
 */
export const URL_OVERRIDE_HEADERS: readonly string[] = ['x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-forwarded-prefix'];

export const DEFAULT_REQUEST_RULES: RequestRules = Object.freeze({
  upgrades: Object.freeze(['websocket']),
  methodOverride: 'reject',
  methodOverrideInBody: true,
  keepUrlOverrides: Object.freeze([]),
  forwardedHeader: false,
  allowTrace: false,
  credentials: DEFAULT_CREDENTIAL_SOURCES,
});

const OVERRIDE_MODES: readonly MethodOverrideMode[] = ['reject', 'authorize', 'strip'];

/** RFC 9110 §5.6.2 token, bounded. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/** Reads the request-meaning fields of one service; absent fields take the defaults. */
export function readRequestRules(r: YamlReader, f: ReadonlyMap<string, Field>): RequestRules {
  return Object.freeze({
    upgrades: f.has('upgrades') ? readUpgrades(r, f.get('upgrades')!.value) : DEFAULT_REQUEST_RULES.upgrades,
    methodOverride: f.has('methodOverride') ? readMode(r, f.get('methodOverride')!.value) : DEFAULT_REQUEST_RULES.methodOverride,
    methodOverrideInBody: flag(r, f, 'methodOverrideInBody', DEFAULT_REQUEST_RULES.methodOverrideInBody),
    keepUrlOverrides: f.has('keepUrlOverrides') ? readKept(r, f.get('keepUrlOverrides')!.value) : DEFAULT_REQUEST_RULES.keepUrlOverrides,
    forwardedHeader: flag(r, f, 'forwardedHeader', DEFAULT_REQUEST_RULES.forwardedHeader),
    allowTrace: flag(r, f, 'allowTrace', DEFAULT_REQUEST_RULES.allowTrace),
    credentials: f.has('credentials') ? readCredentials(r, f.get('credentials')!.value) : DEFAULT_REQUEST_RULES.credentials,
  });
}

function flag(r: YamlReader, f: ReadonlyMap<string, Field>, name: string, fallback: boolean): boolean {
  return f.has(name) ? r.boolean(f.get(name)!.value, name) ?? fallback : fallback;
}

function readKept(r: YamlReader, node: YNode): readonly string[] {
  const names: string[] = [];
  for (const { value, node: at } of r.stringNodes(node, 'keepUrlOverrides') ?? []) {
    const name = value.toLowerCase().replaceAll('_', '-');
    if (URL_OVERRIDE_HEADERS.includes(name)) names.push(name);
    else r.error(at, `keepUrlOverrides: "${value}" is not one of X-Original-URL, X-Rewrite-URL, X-Original-URI, X-Forwarded-Prefix`);
  }
  return Object.freeze(names);
}

function readMode(r: YamlReader, node: YNode): MethodOverrideMode {
  const text = r.string(node, 'methodOverride');
  const mode = OVERRIDE_MODES.find((m) => m === text);
  if (mode) return mode;
  if (text !== undefined) r.error(node, `methodOverride must be one of ${OVERRIDE_MODES.join(', ')}`);
  return DEFAULT_REQUEST_RULES.methodOverride;
}

function readUpgrades(r: YamlReader, node: YNode): readonly string[] {
  const names: string[] = [];
  for (const { value, node: at } of r.stringNodes(node, 'upgrades') ?? []) {
    const name = value.toLowerCase();
    if (!TOKEN.test(value)) r.error(at, `upgrades: "${value}" is not an upgrade protocol name (e.g. websocket)`);
    else if (name === 'h2c') r.error(at, 'upgrades: h2c is never proxied (every HTTP/2 request on the connection would skip keygate\'s check)');
    else names.push(name);
  }
  return Object.freeze(names);
}

/**
 * Headers a client cannot carry its key in: the ones keygate or the HTTP layer owns, and
 * the ones that say who the client is. Checked against the canonical name (`_` read as `-`).
 */
const NOT_A_CREDENTIAL_HEADER = new Set([
  'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'cookie', 'x-request-id', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'forwarded',
]);

/** Query parameter names keygate accepts for a key: plain, so what PHP or Rack decode is what keygate compares. */
const QUERY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * `credentials: { headers: [X-Auth-Token], query: api_key }`: where the service's clients put
 * their key, instead of Authorization (Bearer, Basic) and X-API-Key. The query parameter is
 * off unless named: a key in a URL ends up in browser history and every log on its way.
 */
function readCredentials(r: YamlReader, node: YNode): CredentialSources {
  const f = r.map(node, 'credentials', ['headers', 'query']);
  if (!f) return DEFAULT_CREDENTIAL_SOURCES;
  const listed = f.has('headers') ? r.stringNodes(f.get('headers')!.value, 'credentials.headers') ?? [] : undefined;
  const headers = listed ? readCredentialHeaders(r, listed) : [...CREDENTIAL_HEADERS];
  const queryNode = f.get('query')?.value;
  const query = queryNode == null ? undefined : r.string(queryNode, 'credentials.query');
  if (query !== undefined && !QUERY_NAME.test(query))
    r.error(queryNode, `credentials.query "${query}" must be a plain parameter name (letters, digits, _ and -, up to 64)`);
  if (query !== undefined && query.toLowerCase() === '_method') r.error(queryNode, 'credentials.query cannot be _method');
  if (listed?.length === 0 && query === undefined) r.error(node, 'credentials names no source: give it headers, query or both');
  return Object.freeze({ headers: Object.freeze(headers), ...(query !== undefined ? { query } : {}) });
}

function readCredentialHeaders(r: YamlReader, listed: readonly { value: string; node: YNode }[]): string[] {
  const names: string[] = [];
  for (const { value, node: at } of listed) {
    const name = value.toLowerCase();
    const canonical = name.replaceAll('_', '-');
    if (!TOKEN.test(value)) r.error(at, `credentials.headers: "${value}" is not a header name`);
    else if (NOT_A_CREDENTIAL_HEADER.has(canonical) || canonical.startsWith('x-keygate-'))
      r.error(at, `credentials.headers: "${value}" cannot carry a key (keygate or the HTTP layer owns it)`);
    else if (names.includes(name)) r.warn(at, `credentials.headers: "${value}" is listed twice`);
    else names.push(name);
  }
  return names;
}
