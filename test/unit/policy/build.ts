/** Small builders for policy tests: rules from one-line text, users, keys and requests. */
import { compileCidrs } from '../../../src/policy/cidr.js';
import type { AccessRequest } from '../../../src/policy/decide.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import type { KeyPolicy, Policy, UserPolicy } from '../../../src/policy/model.js';
import { pathSegments } from '../../../src/policy/pathPattern.js';
import { readingsOf } from '../../../src/policy/pathReadings.js';
import { compileRule, type CompiledRule, type RuleSpec } from '../../../src/policy/rules.js';

export const NOW = Date.parse('2026-12-01T00:00:00Z');

/** `"compute GET,HEAD /v2/**"`, `"* read /**"`, `"compute * /x @eu-west-1,us-east-1"` (method `*` = omitted). */
export function spec(text: string): RuleSpec {
  const [service, method, path, region] = text.split(' ');
  return {
    service,
    path,
    ...(method === '*' ? {} : { method: method.split(',') }),
    ...(region ? { region: region.slice(1).split(',') } : {}),
  };
}

export function rule(text: string | RuleSpec, owner = 'test', index = 0, except?: readonly string[]): CompiledRule {
  const compiled = compileRule(typeof text === 'string' ? spec(text) : text, { owner, index }, except);
  if ('error' in compiled) throw new Error(compiled.error);
  return compiled;
}

export function matcher(owner: string, texts: readonly string[]): RuleMatcher {
  return new RuleMatcher(texts.map((t, i) => rule(t, owner, i)));
}

export function user(name: string, texts: readonly string[], extra: Partial<Omit<UserPolicy, 'name' | 'rules'>> = {}): UserPolicy {
  return { name, roles: ['role'], rules: matcher(`role of ${name}`, texts), disabled: false, ...extra };
}

export interface KeyOptions {
  id?: string;
  user?: string;
  scope?: KeyPolicy['scope'];
  allow?: readonly string[];
  deny?: readonly string[];
  sourceIPs?: readonly string[];
  expires?: number;
  notBefore?: number;
  disabled?: boolean;
}

export function key(o: KeyOptions = {}): KeyPolicy {
  const id = o.id ?? 'AAAAAAAAAAAA';
  return {
    id,
    user: o.user ?? 'joe',
    name: 'test key',
    scope: o.scope ?? 'restricted',
    allow: matcher(`key ${id} allow`, o.allow ?? []),
    deny: matcher(`key ${id} deny`, o.deny ?? []),
    sourceIPs: o.sourceIPs ? compileCidrs(o.sourceIPs) : null,
    disabled: o.disabled ?? false,
    ...(o.expires !== undefined ? { expires: o.expires } : {}),
    ...(o.notBefore !== undefined ? { notBefore: o.notBefore } : {}),
  };
}

export function policy(users: readonly UserPolicy[], guardrails: readonly CompiledRule[] = [], region = 'eu-west-1'): Policy {
  return { region, users: new Map(users.map((u) => [u.name, u])), guardrails: new RuleMatcher(guardrails) };
}

export interface RequestOptions {
  service?: string;
  method?: string;
  path?: string;
  region?: string;
  clientIp?: string;
  now?: number;
  /** The service routes case-insensitively (allow rules compare lower-cased). */
  caseInsensitive?: boolean;
}

export function request(o: RequestOptions = {}): AccessRequest {
  const segments = pathSegments(o.path ?? '/v2/p1/servers/s1');
  return {
    region: o.region ?? 'eu-west-1',
    service: o.service ?? 'compute',
    method: o.method ?? 'GET',
    segments,
    clientIp: o.clientIp ?? '10.1.2.3',
    now: o.now ?? NOW,
    readings: readingsOf(segments, o.caseInsensitive),
  };
}
