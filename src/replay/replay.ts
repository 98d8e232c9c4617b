import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import type { Reason } from '../errors.js';
import { decideFor, resolveDestination } from '../proxy/access.js';
import { ruleName, type CompiledRule } from '../policy/rules.js';
import { parseLine, type AccessLine } from './accessLines.js';

export type Verdict = 'allow' | 'deny';
export type Direction = 'allowed_to_denied' | 'denied_to_allowed';

/** The live reasons of steps 3-7: the requests whose denial a policy change can undo. */
const POLICY_DENIALS: ReadonlySet<string> = new Set<Reason>([
  'key_disabled',
  'key_expired',
  'key_not_yet_valid',
  'source_ip_not_allowed',
  'user_unknown',
  'user_disabled',
  'user_expired',
  'user_denied',
  'key_scope_denied',
  'key_deny_rule',
  'guardrail',
]);
/** Reasons of requests the policy allowed and something later refused or failed. */
const AFTER_POLICY: ReadonlySet<string> = new Set<Reason>([
  'allow',
  'upstream_failed',
  'upstream_timeout',
  'payload_too_large',
  'body_timeout',
]);

/** What the candidate answers to one replayed request. */
export interface CandidateAnswer {
  readonly verdict: Verdict;
  readonly reason: Reason;
  /** The rule that denies, or the one that allows. */
  readonly rule: CompiledRule | undefined;
  /** What failed, in words, when no rule denies. */
  readonly detail: string;
}

/** The rule that makes the difference (the denying one, or the allowing one); else what failed. Only built for changes. */
export function becauseOf(answer: CandidateAnswer): string {
  return answer.rule ? ruleName(answer.rule) : `${answer.reason}: ${answer.detail}`;
}

/** The live answer of a line, when the policy gave it: not for requests refused before a key was known, nor rate limits. */
export function liveVerdict(line: AccessLine): Verdict | undefined {
  if (line.keyId === undefined) return undefined;
  if (POLICY_DENIALS.has(line.reason)) return 'deny';
  if (AFTER_POLICY.has(line.reason)) return 'allow';
  return undefined;
}

/**
 * Decides a logged request again with `candidate`, at the time it arrived: routed by its
 * host and path as the proxy would, the key found by its id (its secret was verified
 * when it was logged), then steps 3-7.
 */
export class Redecider {
  /** Built once per key id: a log has millions of lines and a config a bounded number of keys. */
  readonly #keys = new Map<string, KeyRecord | undefined>();

  constructor(private readonly candidate: Snapshot) {}

  decide(line: AccessLine, keyId: string): CandidateAnswer {
    const c = this.candidate;
    const dest = resolveDestination(c, line.host, line.path);
    if ('allow' in dest) return { verdict: 'deny', reason: dest.reason, rule: undefined, detail: dest.detail };
    const key = this.#key(keyId);
    if (key === undefined)
      return { verdict: 'deny', reason: 'unknown_key', rule: undefined, detail: 'the candidate has no key with this id' };
    const d = decideFor(c, key, dest, line.method, line.clientIp, line.at, c.region);
    if (d.allow) return { verdict: 'allow', reason: 'allow', rule: d.keyRule ?? d.userRule, detail: '' };
    return { verdict: 'deny', reason: d.reason, rule: d.rule, detail: d.detail };
  }

  #key(id: string): KeyRecord | undefined {
    if (!this.#keys.has(id)) this.#keys.set(id, this.candidate.keys.byId.get(id));
    return this.#keys.get(id);
  }
}

export interface Example {
  readonly time: string;
  readonly requestId: string;
  readonly mode: string;
  readonly method: string;
  readonly host: string | null;
  readonly path: string;
  readonly clientIp: string;
  readonly keyId: string;
  readonly live: string;
  readonly candidate: string;
}

export interface Group {
  count: number;
  readonly example: Example;
}

export interface KeyGroup extends Group {
  readonly keyId: string;
  readonly user: string | null;
  readonly keyName: string | null;
}

export interface RuleGroup extends Group {
  readonly rule: string;
}

/** Changes of one direction, grouped two ways. Memory is bounded by keys and rules, not by lines. */
export interface Changes {
  count: number;
  readonly byKey: Map<string, KeyGroup>;
  readonly byRule: Map<string, RuleGroup>;
}

export interface ReplaySummary {
  /** Lines read (every line, any kind). */
  lines: number;
  /** Access lines at or after `since`. */
  considered: number;
  /** Access lines whose live answer came from the policy, decided again. */
  replayed: number;
  /** Lines that are not JSON, or JSON access lines missing a field replay needs. */
  unreadable: number;
  readonly changes: Record<Direction, Changes>;
}

export function emptySummary(): ReplaySummary {
  const changes = (): Changes => ({ count: 0, byKey: new Map(), byRule: new Map() });
  return { lines: 0, considered: 0, replayed: 0, unreadable: 0, changes: { allowed_to_denied: changes(), denied_to_allowed: changes() } };
}

/** Adds one replayed line whose answer changed. */
export function recordChange(summary: ReplaySummary, line: AccessLine, keyId: string, answer: CandidateAnswer): void {
  const direction: Direction = answer.verdict === 'deny' ? 'allowed_to_denied' : 'denied_to_allowed';
  const changes = summary.changes[direction];
  changes.count++;
  const byKey = changes.byKey.get(keyId);
  if (byKey) byKey.count++;
  else
    changes.byKey.set(keyId, {
      keyId,
      user: line.user ?? null,
      keyName: line.keyName ?? null,
      count: 1,
      example: exampleOf(line, keyId, answer),
    });
  const because = becauseOf(answer);
  const byRule = changes.byRule.get(because);
  if (byRule) byRule.count++;
  else changes.byRule.set(because, { rule: because, count: 1, example: exampleOf(line, keyId, answer) });
}

function exampleOf(line: AccessLine, keyId: string, answer: CandidateAnswer): Example {
  return {
    time: new Date(line.at).toISOString(),
    requestId: line.requestId,
    mode: line.mode,
    method: line.method,
    host: line.host ?? null,
    path: line.path,
    clientIp: line.clientIp,
    keyId,
    live: line.reason,
    candidate: answer.reason,
  };
}

/**
 * Streams the logs (in the order given) and decides every policy-answered access line at
 * or after `since` (epoch ms) again with `candidate`.
 */
export async function replayLogs(
  batches: AsyncIterable<readonly string[]>,
  candidate: Snapshot,
  since: number | undefined,
): Promise<ReplaySummary> {
  const summary = emptySummary();
  const redecider = new Redecider(candidate);
  for await (const batch of batches) for (const text of batch) replayLine(summary, redecider, text, since);
  return summary;
}

function replayLine(summary: ReplaySummary, redecider: Redecider, text: string, since: number | undefined): void {
  if (text === '') return;
  summary.lines++;
  const read = parseLine(text);
  if (read.kind === 'unreadable') summary.unreadable++;
  if (read.kind !== 'access' || (since !== undefined && read.line.at < since)) return;
  const line = read.line;
  summary.considered++;
  const live = liveVerdict(line);
  const keyId = line.keyId;
  if (live === undefined || keyId === undefined) return;
  summary.replayed++;
  const answer = redecider.decide(line, keyId);
  if (answer.verdict !== live) recordChange(summary, line, keyId, answer);
}
