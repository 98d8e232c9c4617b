import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { statusOf, type Reason } from '../errors.js';
import { STEPS, type StepNumber } from '../policy/decide.js';
import { keyState } from '../policy/model.js';
import { ruleText, type CompiledRule } from '../policy/rules.js';
import { decideFor, resolveDestination, type Destination } from '../proxy/access.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requireString } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';
import { parseTimestamp } from '../config/values.js';

export const explainHelp =
  'keygate explain -c FILE --key ID --method M --path P [--host H] [--region R] [--service S] [--source-ip IP] [--at TIME] [--json]';

interface Explanation {
  decision: 'allow' | 'deny';
  reason: Reason;
  status: number;
  step: number;
  stepName: string;
  detail: string;
  key: string;
  user?: string;
  service?: string;
  path?: string;
  rule?: RuleView;
  userRule?: RuleView;
  keyRule?: RuleView;
}

interface RuleView {
  text: string;
  source: string;
}

/** Which rule allowed, or which step denied, for a key on a request, without its secret. */
export function runExplain(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    key: { type: 'string' }, method: { type: 'string' }, path: { type: 'string' }, host: { type: 'string' },
    region: { type: 'string' }, service: { type: 'string' }, 'source-ip': { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' },
  });
  const required = { keyId: keyIdArg(requireString(args, 'key'), io, '--key'), method: requireString(args, 'method'), path: requireString(args, 'path') };
  const now = atTime(optionalString(args, 'at'), io); // usage errors (exit 2) before the config is read
  const snapshot = loadOrFail(configPath(args, io), io);
  const result = explain(snapshot, {
    ...required,
    host: optionalString(args, 'host'),
    region: optionalString(args, 'region') ?? snapshot.region,
    service: optionalString(args, 'service'),
    clientIp: optionalString(args, 'source-ip') ?? '127.0.0.1',
    now,
  });
  io.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : humanText(result));
  return result.decision === 'allow' ? EXIT.ok : EXIT.failed;
}

export interface ExplainQuery {
  keyId: string; method: string; path: string; host: string | undefined; region: string; service: string | undefined; clientIp: string; now: number;
}

export function explain(snapshot: Snapshot, q: ExplainQuery): Explanation {
  const key = snapshot.keys.byId.get(q.keyId);
  if (!key) throw new CommandFailed(`unknown key id "${q.keyId}"`);
  const dest = destinationFor(snapshot, q);
  if ('allow' in dest) return denial(key, dest.reason, dest.step, dest.detail);
  const base = { key: key.id, user: key.user, service: dest.service.name, path: dest.path };
  const d = decideFor(snapshot, key, dest, q.method, q.clientIp, q.now, q.region);
  if (!d.allow) return { ...denial(key, d.reason, d.step, d.detail), ...base, ...(d.rule ? { rule: view(d.rule) } : {}) };
  return {
    decision: 'allow', reason: 'allow', status: 200, step: d.step, stepName: 'allowed', detail: `allowed: ${keyState(snapshot, key, q.now)} key`,
    ...base, userRule: view(d.userRule), ...(d.keyRule ? { keyRule: view(d.keyRule), rule: view(d.keyRule) } : { rule: view(d.userRule) }),
  };
}

function destinationFor(snapshot: Snapshot, q: ExplainQuery): ReturnType<typeof resolveDestination> {
  if (q.service === undefined) return resolveDestination(snapshot, q.host, q.path);
  const service = snapshot.services.find((s) => s.name === q.service);
  if (!service) throw new CommandFailed(`unknown service "${q.service}"`);
  if (!q.path.startsWith('/')) throw new UsageError('--path must start with "/"');
  const own = { ...service, pathPrefix: undefined, host: undefined, stripPrefix: false };
  const routed = resolveDestination({ ...snapshot, services: [own] }, undefined, q.path);
  return 'allow' in routed ? routed : ({ ...routed, service } satisfies Destination);
}

function denial(key: KeyRecord, reason: Reason, step: StepNumber | 0, detail: string): Explanation {
  return { decision: 'deny', reason, status: statusOf(reason), step, stepName: step === 0 ? 'path safety' : STEPS[step], detail, key: key.id, user: key.user };
}

function view(rule: CompiledRule): RuleView {
  const o = rule.origin;
  return { text: ruleText(rule), source: `${o.owner} rule ${o.index + 1}${o.file ? ` at ${o.file}:${o.line}:${o.col}` : ''}` };
}

function humanText(e: Explanation): string {
  const lines = [
    `decision: ${e.decision.toUpperCase()} (${e.status} ${e.reason})`,
    `step:     ${e.step} (${e.stepName}): ${e.detail}`,
    `key:      ${e.key}${e.user ? ` of user ${e.user}` : ''}`,
  ];
  if (e.service) lines.push(`service:  ${e.service}, path ${e.path}`);
  if (e.userRule) lines.push(`user rule: ${e.userRule.text}   (${e.userRule.source})`);
  if (e.keyRule) lines.push(`key rule:  ${e.keyRule.text}   (${e.keyRule.source})`);
  if (e.decision === 'deny' && e.rule) lines.push(`rule:     ${e.rule.text}   (${e.rule.source})`);
  return lines.join('\n');
}

function atTime(text: string | undefined, io: CliIO): number {
  if (text === undefined) return io.now();
  const t = parseTimestamp(text);
  if (typeof t !== 'number') throw new UsageError(`--at: ${t.error}`);
  return t;
}
