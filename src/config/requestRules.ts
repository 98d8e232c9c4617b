import type { MethodOverrideMode, RequestRules } from './snapshot.js';
import type { Field, YamlReader, YNode } from '../reader/yamlReader.js';

/** The service fields read here (keygate.yaml `services[]`). */
export const REQUEST_RULE_FIELDS = ['upgrades', 'methodOverride', 'methodOverrideInBody', 'keepUrlOverrides', 'forwardedHeader', 'allowTrace'] as const;

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
