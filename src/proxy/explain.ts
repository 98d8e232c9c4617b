import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { statusOf, type Reason } from '../errors.js';
import { STEPS, type StepNumber } from '../policy/decide.js';
import { keyState } from '../policy/model.js';
import { limitView, type LimitView } from '../policy/rateLimits.js';
import { ruleText, type CompiledRule } from '../policy/rules.js';
import { appliedLimits } from '../ratelimit/limiter.js';
import { decideFor, resolveDestination, type Destination } from './access.js';
import { describeBinding } from './clientCert.js';

/**
 * `keygate explain`: the decision `checkAccess` would make for a known key, without its
 * secret, and which rule allowed or which step denied. Steps 0-1 and 3-7 are the
 * proxy's own (`resolveDestination`, `decideFor`); step 2 is taken as passed.
 */

export interface ExplainQuery {
  readonly keyId: string;
  readonly method: string;
  /** The client's path; with `service`, the service's own path instead (no routing). */
  readonly path: string;
  readonly host: string | undefined;
  readonly region: string;
  readonly service: string | undefined;
  readonly clientIp: string;
  readonly now: number;
}

export interface RuleView {
  readonly text: string;
  readonly source: string;
}

export interface Explanation {
  readonly decision: 'allow' | 'deny';
  readonly reason: Reason;
  readonly status: number;
  readonly step: number;
  readonly stepName: string;
  readonly detail: string;
  readonly key: string;
  readonly user?: string;
  readonly service?: string;
  readonly path?: string;
  readonly rule?: RuleView;
  readonly userRule?: RuleView;
  readonly keyRule?: RuleView;
  /** The buckets an allowed request takes a token from (step 8); empty: unlimited. */
  readonly rateLimits?: readonly LimitView[];
  /** The client certificate the key is bound to (step 2a; explain takes it as presented). */
  readonly clientCert?: string;
}

/** A question that cannot be answered: it names a key or service the configuration lacks, or a path that is not one. */
export interface Unanswerable {
  readonly problem: 'unknown_key' | 'unknown_service' | 'relative_path';
  readonly message: string;
}

export function explain(snapshot: Snapshot, q: ExplainQuery): Explanation | Unanswerable {
  const key = snapshot.keys.byId.get(q.keyId);
  if (!key) return { problem: 'unknown_key', message: `unknown key id "${q.keyId}"` };
  const dest = destinationFor(snapshot, q);
  if ('problem' in dest) return dest;
  if ('allow' in dest) return denial(key, dest.reason, dest.step, dest.detail);
  const binding = snapshot.clientCertBindings.get(key.id);
  const base = {
    key: key.id,
    user: key.user,
    service: dest.service.name,
    path: dest.path,
    ...(binding ? { clientCert: describeBinding(binding) } : {}),
  };
  const d = decideFor(snapshot, key, dest, q.method, q.clientIp, q.now, q.region);
  if (!d.allow) return { ...denial(key, d.reason, d.step, d.detail), ...base, ...(d.rule ? { rule: view(d.rule) } : {}) };
  return {
    decision: 'allow',
    reason: 'allow',
    status: 200,
    step: d.step,
    stepName: 'allowed',
    detail: `allowed: ${keyState(snapshot, key, q.now)} key`,
    ...base,
    userRule: view(d.userRule),
    ...(d.keyRule ? { keyRule: view(d.keyRule), rule: view(d.keyRule) } : { rule: view(d.userRule) }),
    rateLimits: appliedLimits(snapshot.rateLimits, snapshot.users.get(key.user), key.id, dest.service.name).map(limitView),
  };
}

function destinationFor(snapshot: Snapshot, q: ExplainQuery): ReturnType<typeof resolveDestination> | Unanswerable {
  if (q.service === undefined) return resolveDestination(snapshot, q.host, q.path);
  const service = snapshot.services.find((s) => s.name === q.service);
  if (!service) return { problem: 'unknown_service', message: `unknown service "${q.service}"` };
  if (!q.path.startsWith('/')) return { problem: 'relative_path', message: '--path must start with "/"' };
  const own = { ...service, pathPrefix: undefined, host: undefined, stripPrefix: false };
  const routed = resolveDestination({ ...snapshot, services: [own] }, undefined, q.path);
  return 'allow' in routed ? routed : ({ ...routed, service } satisfies Destination);
}

function denial(key: KeyRecord, reason: Reason, step: StepNumber | 0, detail: string): Explanation {
  return {
    decision: 'deny',
    reason,
    status: statusOf(reason),
    step,
    stepName: step === 0 ? 'path safety' : STEPS[step],
    detail,
    key: key.id,
    user: key.user,
  };
}

function view(rule: CompiledRule): RuleView {
  const o = rule.origin;
  return { text: ruleText(rule), source: `${o.owner} rule ${o.index + 1}${o.file ? ` at ${o.file}:${o.line}:${o.col}` : ''}` };
}
