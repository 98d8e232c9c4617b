/**
 * deploy/ (the Grafana dashboard and the Prometheus rules) must use exactly the metric
 * names and labels keygate exports. A renamed metric otherwise shows up as an empty
 * panel or an alert that can never fire, which nobody notices until an incident.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { Snapshot } from '../../src/config/snapshot.js';
import { metricsSources } from '../../src/cli/app.js';
import { Metrics } from '../../src/observability/metrics.js';
import { exposedNames, parseExposition, samplesOf, type Exposition } from '../helpers/promText.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD = join(ROOT, 'deploy/grafana/keygate-dashboard.json');
const RULES = join(ROOT, 'deploy/prometheus/keygate-rules.yaml');
const RULES_TESTS = join(ROOT, 'deploy/prometheus/keygate-rules.test.yaml');
const DEPLOY = join(ROOT, 'deploy');

const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;
const SKIP_NOTE = PROMTOOL ? '' : ' [SKIPPED: promtool not on PATH; apt-get install -y --no-install-recommends prometheus]';

/** Labels Prometheus adds at scrape time (job, instance) or that histograms carry (le). */
const TARGET_LABELS = new Set(['job', 'instance', 'le']);
const OUR_PREFIXES = /^(keygate_|process_|nodejs_)/;
/** `name{matchers}`: in PromQL only a metric name stands right before `{`. */
const SELECTOR = /(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
/** Our metric names (and recording-rule names, which contain `:`) used without braces. */
const BARE_NAME = /(?<![\w:$.])((?:keygate|process|nodejs)_[a-zA-Z0-9_]*|[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+)(?![\w:])/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g;
const GROUPING = /\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g;

interface Expression {
  readonly where: string;
  readonly expr: string;
}

/** One of every event, so every series family has samples (and every histogram its buckets). */
async function exportedMetrics(): Promise<{ text: string; exp: Exposition }> {
  const snapshot = {
    generation: 3,
    users: new Map([['joe', { name: 'joe', disabled: false }]]),
    keys: Object.assign(
      [
        { id: 'k1', user: 'joe', disabled: false },
        { id: 'k2', user: 'gone', disabled: false },
      ],
      {
        byId: new Map([['k1', {}]]),
        dates: () =>
          [
            { id: 'k1', user: 'joe', disabled: false },
            { id: 'k2', user: 'gone', disabled: false },
          ].values(),
      },
    ),
  } as unknown as Snapshot;
  const m = new Metrics({ ...metricsSources(() => snapshot), perKeyLabels: true });
  m.requestFinished({ service: 'compute', method: 'GET', decision: 'allow', reason: 'allow', mode: 'proxy', keyId: 'k1' }, 0.01);
  m.requestFinished({ service: 'compute', method: 'POST', decision: 'deny', reason: 'bad_secret', mode: 'check', keyId: 'k1' }, 0.001);
  m.requestFinished({ service: undefined, method: 'GET', decision: 'deny', reason: 'no_route', mode: 'proxy' }, 0.0001);
  m.decisionTime(0.00005);
  m.upstreamFinished('compute', 200, 0.008);
  m.upstreamError('compute', 'connect');
  m.shadowDisagreed('compute', 'allow', 'deny');
  m.requestStarted();
  m.configLoaded(2);
  m.configReloaded('failure');
  m.configReloaded('success', 3);
  m.tlsCertificateExpiry('proxy', 1_800_000_000);
  const text = await m.metricsText();
  return { text, exp: parseExposition(text) };
}

/** Every `expr` string in a parsed document (Grafana targets, rule files, PrometheusRule CRDs). */
function expressionsIn(doc: unknown, root: string): Expression[] {
  const out: Expression[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}[${i}]`));
    else if (typeof node === 'object' && node !== null) {
      const named = ['title', 'record', 'alert'].map((k) => (node as Record<string, unknown>)[k]).find((v) => typeof v === 'string');
      const here = named === undefined ? where : `${where} "${String(named)}"`;
      for (const [k, v] of Object.entries(node)) {
        if (k === 'expr' && typeof v === 'string') out.push({ where: here, expr: v });
        else walk(v, `${here}.${k}`);
      }
    }
  };
  walk(doc, root);
  return out;
}

function dashboardExpressions(): Expression[] {
  return expressionsIn(JSON.parse(readFileSync(DASHBOARD, 'utf8')), 'dashboard');
}

/** Every YAML and JSON file under deploy/ except rule unit tests (their series are test input). */
function deployFiles(): string[] {
  return readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith('.test.yaml'))
    .map((f) => join(DEPLOY, f));
}

function parsedDocuments(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? [JSON.parse(text)] : parseAllDocuments(text).map((d) => d.toJS() as unknown);
}

/** Expressions of every deploy file: the dashboard, the rules, and any other manifest with `expr`. */
function deployExpressions(): Expression[] {
  return deployFiles().flatMap((f) => parsedDocuments(f).flatMap((doc) => expressionsIn(doc, f.slice(DEPLOY.length + 1))));
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

function ruleExpressions(): Expression[] {
  const rules = parseYaml(readFileSync(RULES, 'utf8')) as RuleFile;
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.record ?? r.alert}`, expr: r.expr })));
}

/** Recording-rule names defined anywhere under deploy/. */
function recordedNames(): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'record' && typeof v === 'string') names.add(v);
        else walk(v);
      }
    }
  };
  deployFiles().flatMap(parsedDocuments).forEach(walk);
  return names;
}

/** Grafana variable queries (label_values(...)) are not PromQL but name metrics too. */
function dashboardVariableQueries(): Expression[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { templating: { list: { name: string; definition?: string }[] } };
  return dash.templating.list.flatMap((v) => (v.definition ? [{ where: `variable $${v.name}`, expr: v.definition }] : []));
}

function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  for (const [, name] of expr.matchAll(SELECTOR)) names.add(name);
  for (const [, name] of expr.matchAll(BARE_NAME)) names.add(name);
  return [...names];
}

/** The family a series name belongs to: keygate_x_seconds_bucket → keygate_x_seconds. */
function familyOf(name: string, exp: Exposition): string {
  const family = name.replace(/_(bucket|sum|count)$/, '');
  return exp.types.has(name) ? name : family;
}

function labelsOf(name: string, exp: Exposition): Set<string> {
  const family = familyOf(name, exp);
  const series = exp.samples.filter((s) => s.name === name || s.name.startsWith(`${family}_`) || s.name === family);
  return new Set(series.flatMap((s) => Object.keys(s.labels)));
}

let exported: { text: string; exp: Exposition };
let all: Expression[];

beforeAll(async () => {
  exported = await exportedMetrics();
  all = [...deployExpressions(), ...dashboardVariableQueries()];
});

describe('deploy/ uses only metrics keygate exports', () => {
  it('finds the expressions (so the checks below cannot pass vacuously)', () => {
    expect(dashboardExpressions().length).toBeGreaterThan(20);
    expect(ruleExpressions().length).toBeGreaterThan(8);
    expect(all.length).toBeGreaterThanOrEqual(dashboardExpressions().length + ruleExpressions().length);
    const referenced = new Set(all.flatMap((e) => metricNamesIn(e.expr)));
    for (const name of ['keygate_requests_total', 'keygate_keys', 'keygate_config_reloads_total', 'keygate_upstream_errors_total']) {
      expect(referenced).toContain(name);
    }
  });

  it('names only metrics in /metrics output (histograms via _bucket, _sum, _count) or recorded by the rules', () => {
    const known = exposedNames(exported.exp);
    const recorded = recordedNames();
    const missing = all.flatMap((e) =>
      metricNamesIn(e.expr)
        .filter((n) => !known.has(n) && !recorded.has(n))
        .map((n) => `${e.where}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it('selects only labels those metrics carry', () => {
    const recorded = recordedNames();
    const wrong: string[] = [];
    for (const e of all) {
      for (const [, name, matchers] of e.expr.matchAll(SELECTOR)) {
        if (recorded.has(name) || !OUR_PREFIXES.test(name)) continue;
        const labels = labelsOf(name, exported.exp);
        for (const [, label] of matchers.matchAll(MATCHER)) {
          if (!labels.has(label) && !TARGET_LABELS.has(label)) wrong.push(`${e.where}: ${name}{${label}}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('groups only by labels the metrics of the expression carry', () => {
    const recorded = recordedNames();
    const wrong: string[] = [];
    for (const e of all) {
      const names = metricNamesIn(e.expr);
      if (names.some((n) => recorded.has(n))) continue; // labels of recorded series are the rule's own
      const labels = new Set([...TARGET_LABELS, ...names.flatMap((n) => [...labelsOf(n, exported.exp)])]);
      for (const [, list] of e.expr.matchAll(GROUPING)) {
        for (const label of list
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean)) {
          if (!labels.has(label)) wrong.push(`${e.where}: by/on (${label})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('exports every keygate_keys state and both reload results', () => {
    const states = samplesOf(exported.exp, 'keygate_keys')
      .map((s) => s.labels.state)
      .sort();
    expect(states).toEqual(['active', 'disabled', 'expired', 'not_yet_valid', 'orphaned', 'rotation_due']);
    const results = samplesOf(exported.exp, 'keygate_config_reloads_total')
      .map((s) => s.labels.result)
      .sort();
    expect(results).toEqual(['failure', 'success']);
  });
});

describe('promtool', () => {
  it.skipIf(!PROMTOOL)(`accepts the /metrics output; keygate's own metrics pass its lint${SKIP_NOTE}`, () => {
    const run = spawnSync('promtool', ['check', 'metrics'], { input: exported.text, encoding: 'utf8' });
    // Exit 3 = lint findings only. prom-client's default nodejs_active_*_total gauges
    // have a counter-style suffix; those names are fixed by SPEC ("Node process default metrics").
    expect([0, 3], run.stderr).toContain(run.status);
    const findings = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
    expect(findings.filter((l) => !/^(nodejs|process)_/.test(l))).toEqual([]);
  });

  it.skipIf(!PROMTOOL)(`accepts the rules file and its unit tests${SKIP_NOTE}`, () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', RULES_TESTS], { encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
  });

  it.skipIf(!PROMTOOL)(`parses every dashboard query as PromQL${SKIP_NOTE}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-dashboard-'));
    try {
      const rules = dashboardExpressions().map((e, i) => ({
        record: `dashboard:query_${i}`,
        expr: e.expr.replaceAll('$__rate_interval', '5m').replace(/\$\w+/g, '.*'),
      }));
      const file = join(dir, 'dashboard-rules.json');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const run = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(run.status, run.stdout + run.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
