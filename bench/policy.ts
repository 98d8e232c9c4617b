/**
 * Decision throughput of the policy engine: key lookup by id + the path's readings +
 * authorize() (steps 3-7), for 10 / 10,000 / 1,000,000 keys, for keys with 1 / 100 / 1,000
 * allow rules, and for the path readings deny rules and guardrails match (readings group:
 * the same keys and deny rules with the readings computed once beforehand, per request on a
 * typical path, and per request on a path with aliases; budget ≤ 1 µs for a typical path).
 *
 *   npm run bench:policy
 *
 * Snapshots are built in memory (no YAML) so a million keys take seconds, not minutes.
 * Every case is warmed up, then measured in several rounds that alternate between the
 * cases (so drift and GC hit all of them alike); the median round counts. Results go to
 * stdout as a table and to bench/results/policy.json. Exits non-zero only if the run breaks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseHash } from '../src/auth/hash.js';
import type { KeyIndex } from '../src/auth/verifier.js';
import type { KeyRecord } from '../src/keys/record.js';
import { KeyStore } from '../src/keys/store.js';
import { authorize, type AccessRequest } from '../src/policy/decide.js';
import { RuleMatcher } from '../src/policy/matcher.js';
import type { Policy, UserPolicy } from '../src/policy/model.js';
import { pathSegments } from '../src/policy/pathPattern.js';
import { readingsOf } from '../src/policy/pathReadings.js';
import { compileRule, type CompiledRule, type RuleSpec } from '../src/policy/rules.js';

const RESULTS = resolve(import.meta.dirname, 'results/policy.json');
const NOW = Date.parse('2026-12-01T00:00:00Z');
const REGION = 'eu-west-1';
const ROUNDS = 9;
const ROUND_MS = 200;
const WARMUP_MS = 300;
const REQUESTS_PER_CASE = 1 << 14;
const TARGETS: Partial<Record<Case['group'], number>> = { keys: 1.5, rules: 2 };

type BenchKey = KeyRecord;

/** A request whose readings the measuring loop may recompute, as access.ts does per request. */
type BenchRequest = { -readonly [K in keyof AccessRequest]: AccessRequest[K] };

interface Case {
  readonly name: string;
  readonly group: 'keys' | 'rules' | 'readings';
  readonly keys: number;
  readonly rulesPerKey: number;
  readonly policy: Policy;
  readonly index: KeyIndex<BenchKey>;
  /** Parallel arrays: the key id each request presents, and the request. */
  readonly ids: readonly string[];
  readonly requests: readonly BenchRequest[];
  /** false: the readings were computed once when the case was built (the readings baseline). */
  readonly readingsPerRequest: boolean;
}

// ---- rules: realistic, distinct patterns across several services ----

const SERVICES = ['compute', 'identity', 'storage', 'network', 'images'];
const RESOURCES = ['servers', 'volumes', 'snapshots', 'networks', 'ports', 'routers', 'images', 'users', 'projects', 'buckets'];
const SUBS = ['actions', 'metadata', 'tags', 'members', 'attachments', 'logs', 'metrics', 'events', 'backups', 'quotas'];
const METHODS: readonly (readonly string[])[] = [['read'], ['GET'], ['write'], ['POST', 'PUT'], ['DELETE'], ['*']];

/** Rule i of a list: `/v{1-3}/{resource}/*\/{sub}/**` style paths, distinct for i < 5 × 3 × 10 × 10 × 2. */
function ruleSpec(i: number): RuleSpec {
  const service = SERVICES[i % SERVICES.length];
  const version = `v${1 + (Math.floor(i / 5) % 3)}`;
  const resource = RESOURCES[Math.floor(i / 15) % RESOURCES.length];
  const sub = SUBS[Math.floor(i / 150) % SUBS.length];
  const tail = Math.floor(i / 1500) % 2 === 0 ? '**' : '{id}';
  const method = METHODS[i % METHODS.length];
  return { service, method: [...method], path: `/${version}/${resource}/*/${sub}/${tail}` };
}

/** A request that rule i (and only rules with the same pattern) admits. */
function requestFor(i: number, rng: () => number): Omit<AccessRequest, 'now' | 'clientIp' | 'readings'> {
  const spec = ruleSpec(i);
  const method = spec.method?.[0] === 'read' || spec.method?.[0] === '*' ? 'GET' : spec.method?.[0] === 'write' ? 'PATCH' : spec.method![0];
  const id = Math.floor(rng() * 1e6).toString(36);
  const path = spec.path.replace('*', `p${id}`).replace('{id}', id).replace('**', `x/${id}`);
  return { region: REGION, service: spec.service, method, segments: pathSegments(path) };
}

function compile(specs: readonly RuleSpec[], owner: string): CompiledRule[] {
  return specs.map((spec, index) => {
    const rule = compileRule(spec, { owner, index });
    if ('error' in rule) throw new Error(`bench rule ${spec.path}: ${rule.error}`);
    return rule;
  });
}

// ---- snapshots ----

const HASH = (() => {
  const h = parseHash('sha256$RRwO9N4IE4dFdcjZ-PjBV285W3M_z8Zg66qhTU_ZUFA');
  if ('error' in h) throw new Error(h.error);
  return h;
})();

const EMPTY = new RuleMatcher([]);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A distinct 12-character base62 id per index, scattered so ids do not share long prefixes. */
function keyId(i: number): string {
  let n = (i * 2654435761) % 2 ** 32;
  let out = '';
  for (let k = 0; k < 6; k++, n = Math.floor(n / 62)) out += BASE62[n % 62];
  let m = i;
  for (let k = 0; k < 6; k++, m = Math.floor(m / 62)) out += BASE62[m % 62];
  return out;
}

function makeKey(i: number, user: string, allow: RuleMatcher): BenchKey {
  return {
    id: keyId(i),
    user,
    name: `bench-${i}`,
    scope: 'restricted',
    allow,
    deny: EMPTY,
    sourceIPs: null,
    disabled: false,
    expires: NOW + 86_400_000,
    hash: HASH,
    legacy: false,
    file: 'keys.yaml',
    line: i + 1,
    col: 5,
  };
}

/** Users hold a broad role so step 5 costs the same in every case; what varies is the key side. */
function makePolicy(users: number): Policy {
  const roles = new RuleMatcher(
    compile(
      [
        { service: '*', method: ['read'], path: '/**' },
        { service: '*', path: '/v1/**' },
        { service: '*', path: '/**' },
      ],
      'role bench',
    ),
  );
  const map = new Map<string, UserPolicy>();
  for (let u = 0; u < users; u++) map.set(`user${u}`, { name: `user${u}`, roles: ['bench'], rules: roles, disabled: false });
  const guardrails = new RuleMatcher(
    compile([{ service: 'identity', method: ['write'], path: '/v3/users/*/credentials/**' }], 'guardrail'),
  );
  return { region: REGION, users: map, guardrails };
}

/** The id as a request would carry it: equal to the indexed one but another string object. */
function freshCopy(id: string): string {
  return [...id].join('');
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Keys with one rule draw from this many compiled matchers, in every case alike. */
const SHARED_MATCHERS = 10;

/**
 * `keys` keys with `rulesPerKey` allow rules each. Keys with one rule share SHARED_MATCHERS
 * compiled matchers, the same ones at every key count, so the key-count cases differ only
 * in the number of keys (and users): a million private tries would measure the allocator,
 * and more distinct tries at larger counts would measure rule variety, not key lookup.
 * Keys with many rules each get their own matcher.
 */
function buildCase(group: Case['group'], keys: number, rulesPerKey: number): Case {
  const rng = mulberry32(keys * 7919 + rulesPerKey);
  const users = Math.max(1, Math.floor(keys / 100));
  const policy = makePolicy(users);
  const shared =
    rulesPerKey === 1 ? Array.from({ length: SHARED_MATCHERS }, (_, i) => new RuleMatcher(compile([ruleSpec(i)], 'key allow'))) : [];
  const specs = Array.from({ length: rulesPerKey }, (_, i) => ruleSpec(i));
  const list: BenchKey[] = [];
  for (let i = 0; i < keys; i++) {
    const allow = rulesPerKey === 1 ? shared[i % shared.length] : new RuleMatcher(compile(specs, `key ${i} allow`));
    list.push(makeKey(i, `user${i % users}`, allow));
  }
  const index = KeyStore.fromKeys(list);
  const ids: string[] = [];
  const requests: AccessRequest[] = [];
  for (let r = 0; r < REQUESTS_PER_CASE; r++) {
    const k = Math.floor(rng() * keys);
    const rule = rulesPerKey === 1 ? k % shared.length : Math.floor(rng() * rulesPerKey);
    ids.push(freshCopy(list[k].id));
    requests.push(withReadings({ ...requestFor(rule, rng), clientIp: '10.1.2.3', now: NOW }));
  }
  const name = group === 'keys' ? `${keys.toLocaleString('en-US')} keys` : `${rulesPerKey.toLocaleString('en-US')} rules/key`;
  return { name, group, keys, rulesPerKey, policy, index, ids, requests, readingsPerRequest: true };
}

function withReadings(r: Omit<AccessRequest, 'readings'>): BenchRequest {
  return { ...r, readings: readingsOf(r.segments) };
}

/** Deny rules of the readings group: none matches the requests, so every reading is walked. */
const DENY_SPECS: readonly RuleSpec[] = [
  { service: '*', path: '/admin/**' },
  { service: 'compute', method: ['DELETE'], path: '/v2/*/servers/*' },
  { service: '*', method: ['GET'], path: '/v2/*/secrets/**' },
];

/**
 * 10 inherit keys with three deny rules each, and the guardrail of makePolicy, on compute and
 * identity paths. `path` shapes one request path from a random id.
 */
function buildReadingsCase(name: string, readingsPerRequest: boolean, path: (id: string) => string): Case {
  const rng = mulberry32(4242);
  const policy = makePolicy(1);
  const deny = new RuleMatcher(compile(DENY_SPECS, 'key deny'));
  const list = Array.from({ length: 10 }, (_, i) => ({ ...makeKey(i, 'user0', EMPTY), scope: 'inherit' as const, deny }));
  const index = KeyStore.fromKeys(list);
  const ids: string[] = [];
  const requests: BenchRequest[] = [];
  for (let r = 0; r < REQUESTS_PER_CASE; r++) {
    const id = Math.floor(rng() * 1e6).toString(36);
    ids.push(freshCopy(list[r % list.length].id));
    const service = r % 2 === 0 ? 'compute' : 'identity';
    requests.push(
      withReadings({ region: REGION, service, method: 'GET', segments: pathSegments(path(id)), clientIp: '10.1.2.3', now: NOW }),
    );
  }
  return { name, group: 'readings', keys: list.length, rulesPerKey: DENY_SPECS.length, policy, index, ids, requests, readingsPerRequest };
}

// ---- measurement ----

/** Runs decisions for at least `ms`; returns decisions per second. Throws if any request is not allowed. */
function measure(c: Case, ms: number): number {
  const { policy, index, ids, requests, readingsPerRequest } = c;
  const mask = requests.length - 1;
  let done = 0;
  let allowed = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 4096; i++, done++) {
      const j = done & mask;
      const key = index.byId.get(ids[j]);
      const req = requests[j];
      if (readingsPerRequest) req.readings = readingsOf(req.segments);
      if (key !== undefined && authorize(policy, key, req).allow) allowed++;
    }
    elapsed = process.hrtime.bigint() - start;
  }
  if (allowed !== done) throw new Error(`${c.name}: ${done - allowed} of ${done} decisions were not "allow"; the bench is broken`);
  return (done * 1e9) / Number(elapsed);
}

/**
 * This machine's price of a memory miss: ns for one read at random in `bytes` that must
 * wait for the read before it (a pointer chase through one 64-byte line a step). A
 * million keys' rows are ~64 MiB, so what the 1,000,000-key case adds is read against
 * this rather than against the 10-key decision alone, whose speed follows the CPU's.
 */
function dependentReadNs(bytes: number): number {
  const lines = bytes / 64;
  const next = new Uint32Array(lines * 16);
  const order = Array.from({ length: lines }, (_, i) => i);
  const rng = mulberry32(lines);
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (let i = 0; i < lines; i++) next[order[i] * 16] = order[(i + 1) % lines] * 16;
  const steps = 1 << 21;
  let at = 0;
  for (let i = 0; i < steps; i++) at = next[at];
  const start = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) at = next[at];
  const ns = Number(process.hrtime.bigint() - start) / steps;
  return at === -1 ? NaN : ns; // reads `at`, so the chase is not optimised away
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Result {
  name: string;
  group: Case['group'];
  keys: number;
  rulesPerKey: number;
  decisionsPerSecond: number;
  microsPerDecision: number;
  rounds: number[];
  slowdown: number;
  target?: number;
  met?: boolean;
}

function run(cases: readonly Case[]): Result[] {
  for (const c of cases) measure(c, WARMUP_MS);
  const rounds = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) rounds.get(c)!.push(measure(c, ROUND_MS));
  }
  return cases.map((c) => {
    const rate = median(rounds.get(c)!);
    const base = median(rounds.get(cases.find((b) => b.group === c.group)!)!);
    const slowdown = base / rate;
    const largest = c === cases.filter((b) => b.group === c.group).at(-1);
    const target = largest ? TARGETS[c.group] : undefined;
    const micros = 1e6 / rate;
    return {
      name: c.name,
      group: c.group,
      keys: c.keys,
      rulesPerKey: c.rulesPerKey,
      decisionsPerSecond: Math.round(rate),
      microsPerDecision: Number(micros.toFixed(3)),
      rounds: rounds.get(c)!.map(Math.round),
      slowdown: Number(slowdown.toFixed(3)),
      ...(target !== undefined ? { target, met: slowdown <= target } : {}),
    };
  });
}

// ---- output ----

function table(results: readonly Result[]): string {
  const rows = results.map((r) => [
    r.name,
    r.keys.toLocaleString('en-US'),
    String(r.rulesPerKey),
    Math.round(r.decisionsPerSecond).toLocaleString('en-US'),
    r.microsPerDecision.toFixed(3),
    `${r.slowdown.toFixed(2)}x`,
    r.target === undefined ? '' : `≤ ${r.target}x ${r.met ? 'met' : 'MISSED'}`,
  ]);
  const head = ['case', 'keys', 'rules/key', 'decisions/s', 'µs/decision', 'slower than first of group', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 || i === 6 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function main(): void {
  const started = Date.now();
  const cases = [
    buildCase('keys', 10, 1),
    buildCase('keys', 10_000, 1),
    buildCase('keys', 1_000_000, 1),
    buildCase('rules', 10, 1),
    buildCase('rules', 10, 100),
    buildCase('rules', 10, 1000),
    buildReadingsCase('readings computed beforehand', false, (id) => `/v2/p${id}/servers/${id}`),
    buildReadingsCase('typical path', true, (id) => `/v2/p${id}/servers/${id}`),
    buildReadingsCase('path with aliases', true, (id) => `/V2/p${id}/Servers/${id}.json/`),
  ];
  const buildMs = Date.now() - started;
  const results = run(cases);
  const missNs = median([0, 1, 2].map(() => dependentReadNs(64 * 2 ** 20)));
  const cachedNs = median([0, 1, 2].map(() => dependentReadNs(256 * 2 ** 10)));
  const byKeys = (keys: number): number => results.find((r) => r.group === 'keys' && r.keys === keys)!.microsPerDecision;
  const addedNs = (byKeys(1_000_000) - byKeys(10)) * 1000;
  console.log(table(results));
  console.log(
    `\nmemory: a dependent read at random in 64 MiB takes ${missNs.toFixed(0)} ns here (in 256 KiB: ${cachedNs.toFixed(1)} ns);` +
      ` the 1,000,000-key decision adds ${addedNs.toFixed(0)} ns over the 10-key one, ${(addedNs / missNs).toFixed(1)} such reads`,
  );
  const seconds = (Date.now() - started) / 1000;
  const load = loadavg().map((l) => l.toFixed(2));
  console.log(
    `\nbuild ${(buildMs / 1000).toFixed(1)} s, total ${seconds.toFixed(1)} s; median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms;` +
      ` ${cpus().length} CPUs, load average ${load.join(' ')} (other load skews the figures)`,
  );
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    loadavg: load,
    rounds: ROUNDS,
    roundMs: ROUND_MS,
    targets: TARGETS,
    seconds,
    memory: {
      dependentReadNs64MiB: Number(missNs.toFixed(1)),
      dependentReadNs256KiB: Number(cachedNs.toFixed(1)),
      addedNsAt1M: Math.round(addedNs),
    },
    results,
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${RESULTS}`);
}

main();
