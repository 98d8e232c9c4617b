import { parseCidr } from '../policy/cidr.js';
import { compileMethods } from '../policy/methods.js';
import { compileRule, type RuleSpec } from '../policy/rules.js';
import { parseDuration, parseTimestamp } from '../reader/values.js';
import type { Snapshot } from '../config/snapshot.js';
import type { KeyEntry, ShadowEntry } from '../keys/editor.js';
import { flag, stringList, type Parsed } from './args.js';
import { CommandFailed, UsageError } from './io.js';

/** What `--allow` / `--deny` take: `SERVICE METHOD PATH [region=R1,R2]`. */
export const RULE_SYNTAX = '"SERVICE METHOD PATH [region=R1,R2]", e.g. "compute read /v2/**" or "compute GET,POST /v2/*/servers/**"';

const SERVICE = /^(?:\*|[a-z0-9][a-z0-9_-]{0,62})$/;
const REGION = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A rule string from the command line, checked for shape (services are checked against the config later). */
export function parseRuleArg(text: string, flag: string): RuleSpec {
  const bad = (why: string): UsageError => new UsageError(`${flag} "${text}": ${why}; expected ${RULE_SYNTAX}`);
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  if (tokens.length < 3 || tokens.length > 4) throw bad(`has ${tokens.length} part(s)`);
  const [service, methodText, path, regionText] = tokens;
  if (!SERVICE.test(service)) throw bad(`"${service}" is not a service name or "*"`);
  const methods = methodText.split(',');
  if (methods.some((m) => m === '')) throw bad(`"${methodText}" has an empty method`);
  const spec: RuleSpec = {
    ...(regionText !== undefined ? { region: parseRegions(regionText, bad) } : {}),
    service,
    method: methods.length === 1 ? methods[0] : methods,
    path,
  };
  if (!path.startsWith('/')) throw bad(`path "${path}" must start with "/"`);
  // Custom methods are known only once the config is read: see checkRuleMethods.
  const compiled = compileRule(spec, { owner: flag, index: 0 }, undefined, 'any');
  if ('error' in compiled) throw bad(compiled.error);
  return spec;
}

/** `--shadow-allow RULE`… and `--shadow-deny RULE`…: a candidate scope, tried on live traffic before `key promote`. */
export function readShadowArgs(args: Parsed): ShadowEntry | undefined {
  const allow = stringList(args, 'shadow-allow').map((r) => parseRuleArg(r, '--shadow-allow'));
  const deny = stringList(args, 'shadow-deny').map((r) => parseRuleArg(r, '--shadow-deny'));
  if (allow.length === 0 && deny.length === 0) return undefined;
  return { ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) };
}

/** A shadow scope's rules name methods and services that exist (exit 2 or 1, nothing written). */
export function checkShadowRules(snapshot: Snapshot, shadow: ShadowEntry | undefined): void {
  const services = new Set(snapshot.services.map((s) => s.name));
  for (const [flag, rules] of [
    ['--shadow-allow', shadow?.allow ?? []],
    ['--shadow-deny', shadow?.deny ?? []],
  ] as const) {
    for (const rule of rules) {
      checkRuleMethods(rule, flag, snapshot.extraMethods);
      if (rule.service !== '*' && !services.has(rule.service))
        throw new CommandFailed(`unknown service "${rule.service}" in ${flag} (services: ${[...services].join(', ')})`);
    }
  }
}

/** A rule's methods against the config's: `reed` or `post` would make a key that can do nothing. */
export function checkRuleMethods(spec: RuleSpec, flag: string, extraMethods: readonly string[]): void {
  const compiled = compileMethods(spec.method, new Set(extraMethods));
  if (compiled !== null && 'error' in compiled)
    throw new UsageError(`${flag} "${spec.service} ${[spec.method ?? '*'].flat().join(',')} ${spec.path}": ${compiled.error}`);
}

function parseRegions(text: string, bad: (why: string) => UsageError): string | string[] {
  const m = /^region=(.+)$/.exec(text);
  if (!m) throw bad(`the fourth part must be region=NAME[,NAME]`);
  const regions = m[1].split(',');
  if (!regions.every((r) => REGION.test(r))) throw bad(`"${m[1]}" is not a region list`);
  return regions.length === 1 ? regions[0] : regions;
}

/** `30d`, `12h` (from now) or an RFC 3339 date/timestamp → epoch ms, in whole seconds. */
export function parseTimeArg(text: string, flag: string, now: number): number {
  const duration = parseDuration(text);
  if (typeof duration === 'number') {
    if (duration <= 0) throw new UsageError(`${flag} "${text}": the duration must be positive`);
    return Math.floor((now + duration) / 1000) * 1000;
  }
  const at = parseTimestamp(text);
  if (typeof at === 'number') return at;
  throw new UsageError(
    `${flag} "${text}" is neither a duration (30d, 12h, 90m) nor an RFC 3339 date or timestamp (2027-01-01, 2027-01-01T12:00:00Z)`,
  );
}

export function parseCidrArgs(texts: readonly string[], flag: string): string[] {
  for (const text of texts) {
    const parsed = parseCidr(text);
    if ('error' in parsed) throw new UsageError(`${flag}: ${parsed.error}`);
  }
  return [...texts];
}

/** How keys files spell instants: `2027-01-01T00:00:00Z`. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const READ_ONLY: RuleSpec = { service: '*', method: 'read', path: '/**' };

/**
 * What the key may do, from `--read-only | --allow RULE... | --inherit`: at most one of them
 * (a key is either restricted to its allow rules or inherits its user's access). Undefined
 * when none is given and `required` is false (`key update` leaves the scope alone).
 */
export function readScope(args: Parsed, required: boolean): Pick<KeyEntry, 'scope' | 'allow'> | undefined {
  const allow = stringList(args, 'allow').map((r) => parseRuleArg(r, '--allow'));
  const chosen = [flag(args, 'read-only') && '--read-only', flag(args, 'inherit') && '--inherit', allow.length > 0 && '--allow'].filter(
    Boolean,
  );
  if (chosen.length > 1)
    throw new UsageError(
      `${chosen.join(' and ')} cannot be combined: a key is either restricted to its --allow rules (--read-only is one of those) or inherits its user's access`,
    );
  if (chosen.length === 0) {
    if (required) throw new UsageError('say what the key may do: --allow RULE (repeatable), --read-only, or --inherit');
    return undefined;
  }
  if (flag(args, 'inherit')) return { scope: 'inherit' };
  return { scope: 'restricted', allow: flag(args, 'read-only') ? [READ_ONLY] : allow };
}
