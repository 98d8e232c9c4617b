import { describe, expect, it } from 'vitest';
import { hashFast, parseHash, type ParsedHash } from '../../../src/auth/hash.js';
import type { Snapshot } from '../../../src/config/snapshot.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import { KeyStore } from '../../../src/keys/store.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { metricsSources } from '../../../src/cli/app.js';
import { Metrics, type RequestLabels } from '../../../src/observability/metrics.js';
import { parseExposition, samplesOf, valueOf, type Exposition } from '../../helpers/promText.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

async function scrape(metrics: Metrics): Promise<Exposition> {
  return parseExposition(await metrics.metricsText());
}

function allowed(overrides: Partial<RequestLabels> = {}): RequestLabels {
  return { service: 'compute', method: 'GET', decision: 'allow', reason: 'allow', mode: 'proxy', ...overrides };
}

interface FakeKey {
  id: string;
  user: string;
  disabled?: boolean;
  expires?: number;
  notBefore?: number;
}

/** A key id as the key store holds them (12 characters) from a short name. */
const kid = (name: string): string => name.padEnd(12, 'x');
const HASH = parseHash(hashFast('secret')) as ParsedHash;

/** Only the parts of a snapshot that metrics read: users, keys (a real key store), generation. */
function fakeSnapshot(generation: number, users: Record<string, { disabled?: boolean; expires?: number }>, keys: FakeKey[]): Snapshot {
  const records = keys.map((k): KeyRecord => ({
    id: kid(k.id),
    user: k.user,
    name: k.id,
    scope: 'inherit',
    allow: new RuleMatcher([]),
    deny: new RuleMatcher([]),
    sourceIPs: null,
    disabled: k.disabled ?? false,
    legacy: false,
    ...(k.expires !== undefined ? { expires: k.expires } : {}),
    ...(k.notBefore !== undefined ? { notBefore: k.notBefore } : {}),
    hash: HASH,
    file: '/keys.yaml',
    line: 1,
    col: 1,
  }));
  return {
    generation,
    users: new Map(Object.entries(users).map(([name, u]) => [name, { name, disabled: false, ...u }])),
    keys: KeyStore.fromKeys(records),
  } as unknown as Snapshot;
}

describe('Metrics: requests', () => {
  it('counts requests by service, method, decision, reason and mode', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.requestFinished(allowed(), 0.004);
    m.requestFinished(allowed(), 0.02);
    m.requestFinished(allowed({ decision: 'deny', reason: 'bad_secret' }), 0.001);
    m.requestFinished(allowed({ mode: 'check', method: 'POST' }), 0.0005);
    const exp = await scrape(m);
    const labels = { service: 'compute', method: 'GET', decision: 'allow', reason: 'allow', mode: 'proxy' };
    expect(valueOf(exp, 'keygate_requests_total', labels)).toBe(2);
    expect(valueOf(exp, 'keygate_requests_total', { ...labels, decision: 'deny', reason: 'bad_secret' })).toBe(1);
    expect(valueOf(exp, 'keygate_requests_total', { ...labels, method: 'POST', mode: 'check' })).toBe(1);
  });

  it('observes request durations in the histogram, per service, decision and mode', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.requestFinished(allowed(), 0.004);
    m.requestFinished(allowed(), 0.02);
    m.requestFinished(allowed({ decision: 'deny', reason: 'guardrail' }), 0.3);
    const exp = await scrape(m);
    const allow = { service: 'compute', decision: 'allow', mode: 'proxy' };
    expect(valueOf(exp, 'keygate_request_duration_seconds_count', allow)).toBe(2);
    expect(valueOf(exp, 'keygate_request_duration_seconds_sum', allow)).toBeCloseTo(0.024, 9);
    expect(valueOf(exp, 'keygate_request_duration_seconds_bucket', { ...allow, le: '0.001' })).toBe(0);
    expect(valueOf(exp, 'keygate_request_duration_seconds_bucket', { ...allow, le: '0.005' })).toBe(1);
    expect(valueOf(exp, 'keygate_request_duration_seconds_bucket', { ...allow, le: '0.025' })).toBe(2);
    expect(valueOf(exp, 'keygate_request_duration_seconds_bucket', { ...allow, le: '+Inf' })).toBe(2);
    expect(valueOf(exp, 'keygate_request_duration_seconds_count', { ...allow, decision: 'deny' })).toBe(1);
  });

  it.each([
    { method: 'GET', label: 'GET' },
    { method: 'PATCH', label: 'PATCH' },
    { method: 'OPTIONS', label: 'OPTIONS' },
    { method: 'get', label: 'other' },
    { method: 'PROPFIND', label: 'other' },
    { method: 'X'.repeat(500), label: 'other' },
  ])('exports method $method as $label', async ({ method, label }) => {
    const m = new Metrics({ defaultMetrics: false });
    m.requestFinished(allowed({ method }), 0.001);
    const [sample] = samplesOf(await scrape(m), 'keygate_requests_total');
    expect(sample.labels.method).toBe(label);
  });

  it('labels a request that matched no service as service="none"', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.requestFinished(allowed({ service: undefined, decision: 'deny', reason: 'no_route' }), 0.001);
    const exp = await scrape(m);
    expect(valueOf(exp, 'keygate_requests_total', { service: 'none', reason: 'no_route' })).toBe(1);
    expect(valueOf(exp, 'keygate_request_duration_seconds_count', { service: 'none', decision: 'deny' })).toBe(1);
  });

  it('ignores impossible durations instead of throwing on the hot path', async () => {
    const m = new Metrics({ defaultMetrics: false });
    expect(() => {
      m.requestFinished(allowed(), Number.NaN);
      m.requestFinished(allowed(), -1);
      m.decisionTime(Number.POSITIVE_INFINITY);
      m.upstreamFinished('compute', 200, Number.NaN);
    }).not.toThrow();
    const exp = await scrape(m);
    expect(valueOf(exp, 'keygate_requests_total', { reason: 'allow' })).toBe(2);
    expect(samplesOf(exp, 'keygate_request_duration_seconds_count')).toEqual([]);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_count')).toBe(0);
  });
});

describe('Metrics: decision, upstream, in flight', () => {
  it('uses microsecond buckets for the decision time', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.decisionTime(0.000004);
    m.decisionTime(0.00002);
    m.decisionTime(0.03);
    const exp = await scrape(m);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_bucket', { le: '0.00001' })).toBe(1);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_bucket', { le: '0.000025' })).toBe(2);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_bucket', { le: '0.025' })).toBe(2);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_bucket', { le: '0.05' })).toBe(3);
    expect(valueOf(exp, 'keygate_decision_duration_seconds_count')).toBe(3);
  });

  it('labels upstream durations by status class and counts upstream errors by kind', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.upstreamFinished('compute', 200, 0.01);
    m.upstreamFinished('compute', 204, 0.01);
    m.upstreamFinished('compute', 503, 0.5);
    m.upstreamFinished('compute', 101, 0.001);
    m.upstreamError('compute', 'connect');
    m.upstreamError('compute', 'connect');
    m.upstreamError('identity', 'timeout');
    const exp = await scrape(m);
    expect(valueOf(exp, 'keygate_upstream_duration_seconds_count', { service: 'compute', status_class: '2xx' })).toBe(2);
    expect(valueOf(exp, 'keygate_upstream_duration_seconds_count', { service: 'compute', status_class: '5xx' })).toBe(1);
    expect(valueOf(exp, 'keygate_upstream_duration_seconds_count', { service: 'compute', status_class: '1xx' })).toBe(1);
    expect(valueOf(exp, 'keygate_upstream_errors_total', { service: 'compute', kind: 'connect' })).toBe(2);
    expect(valueOf(exp, 'keygate_upstream_errors_total', { service: 'identity', kind: 'timeout' })).toBe(1);
  });

  it('tracks requests in flight; ending one twice counts once', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const first = m.requestStarted();
    const second = m.requestStarted();
    m.requestStarted();
    expect(valueOf(await scrape(m), 'keygate_requests_in_flight')).toBe(3);
    first();
    first();
    second();
    expect(valueOf(await scrape(m), 'keygate_requests_in_flight')).toBe(1);
  });
});

describe('Metrics: config and keys', () => {
  it('exports both reload results at 0 before any reload, so increase() sees the first failure', async () => {
    const exp = await scrape(new Metrics({ defaultMetrics: false }));
    expect(valueOf(exp, 'keygate_config_reloads_total', { result: 'success' })).toBe(0);
    expect(valueOf(exp, 'keygate_config_reloads_total', { result: 'failure' })).toBe(0);
  });

  it('records the start-up load, a failed reload (old generation stays) and a good one', async () => {
    let now = T0;
    const m = new Metrics({ defaultMetrics: false, now: () => now });
    m.configLoaded(1);
    let exp = await scrape(m);
    expect(valueOf(exp, 'keygate_config_generation')).toBe(1);
    expect(valueOf(exp, 'keygate_config_last_reload_success_timestamp_seconds')).toBe(T0 / 1000);
    expect(valueOf(exp, 'keygate_config_last_reload_successful')).toBe(1);
    expect(valueOf(exp, 'keygate_config_reloads_total', { result: 'success' })).toBe(0);

    now = T0 + 60_000;
    m.configReloaded('failure');
    exp = await scrape(m);
    expect(valueOf(exp, 'keygate_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(valueOf(exp, 'keygate_config_last_reload_successful')).toBe(0);
    expect(valueOf(exp, 'keygate_config_generation')).toBe(1);
    expect(valueOf(exp, 'keygate_config_last_reload_success_timestamp_seconds')).toBe(T0 / 1000);

    now = T0 + 120_000;
    m.configReloaded('success', 2);
    exp = await scrape(m);
    expect(valueOf(exp, 'keygate_config_reloads_total', { result: 'success' })).toBe(1);
    expect(valueOf(exp, 'keygate_config_last_reload_successful')).toBe(1);
    expect(valueOf(exp, 'keygate_config_generation')).toBe(2);
    expect(valueOf(exp, 'keygate_config_last_reload_success_timestamp_seconds')).toBe(T0 / 1000 + 120);
  });

  it('always exports all six key states, 0 when there are none', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.setKeyStates({ active: 3, rotation_due: 0, disabled: 1, expired: 0, not_yet_valid: 0, orphaned: 0 });
    const states = Object.fromEntries(samplesOf(await scrape(m), 'keygate_keys').map((s) => [s.labels.state, s.value]));
    expect(states).toEqual({ active: 3, rotation_due: 0, disabled: 1, expired: 0, not_yet_valid: 0, orphaned: 0 });
  });

  it('counts key states from the snapshot at scrape time, so expiry needs no reload', async () => {
    let now = T0;
    const snapshot = fakeSnapshot(7, { joe: {}, ann: { disabled: true }, old: { expires: T0 - 1 } }, [
      { id: 'a1', user: 'joe' },
      { id: 'a2', user: 'joe', expires: T0 + 1000 },
      { id: 'd1', user: 'joe', disabled: true },
      { id: 'd2', user: 'ann' },
      { id: 'e1', user: 'old' },
      { id: 'n1', user: 'joe', notBefore: T0 + 500 },
      { id: 'o1', user: 'gone' },
    ]);
    const m = new Metrics({ defaultMetrics: false, ...metricsSources(() => snapshot), now: () => now });
    const states = async (): Promise<Record<string, number>> =>
      Object.fromEntries(samplesOf(await scrape(m), 'keygate_keys').map((s) => [s.labels.state, s.value]));
    expect(await states()).toEqual({ active: 2, rotation_due: 0, disabled: 2, expired: 1, not_yet_valid: 1, orphaned: 1 });
    now = T0 + 1000;
    expect(await states()).toEqual({ active: 2, rotation_due: 0, disabled: 2, expired: 2, not_yet_valid: 0, orphaned: 1 });
    expect(valueOf(await scrape(m), 'keygate_config_generation')).toBe(7);
  });
});

describe('Metrics: per-key labels and isolation', () => {
  it('has no per-key metric unless switched on', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.requestFinished(allowed({ keyId: 'a1' }), 0.001);
    const text = await m.metricsText();
    expect(text).not.toContain('keygate_key_requests_total');
    expect(text).not.toContain('a1');
  });

  it('counts per key id when switched on, only for ids in the config', async () => {
    const snapshot = fakeSnapshot(1, { joe: {} }, [{ id: 'a1', user: 'joe' }]);
    const m = new Metrics({ defaultMetrics: false, perKeyLabels: true, ...metricsSources(() => snapshot) });
    m.requestFinished(allowed({ keyId: kid('a1') }), 0.001);
    m.requestFinished(allowed({ keyId: kid('a1'), decision: 'deny', reason: 'bad_secret' }), 0.001);
    m.requestFinished(allowed({ keyId: 'attackerChose', decision: 'deny', reason: 'unknown_key' }), 0.001);
    const exp = await scrape(m);
    expect(valueOf(exp, 'keygate_key_requests_total', { key_id: kid('a1'), decision: 'allow' })).toBe(1);
    expect(valueOf(exp, 'keygate_key_requests_total', { key_id: kid('a1'), decision: 'deny' })).toBe(1);
    expect(samplesOf(exp, 'keygate_key_requests_total')).toHaveLength(2);
    expect(await m.metricsText()).not.toContain('attackerChose');
  });

  it('keeps separate registries per instance and exports the default process metrics', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.requestFinished(allowed(), 0.001);
    const [expA, expB] = await Promise.all([scrape(a), scrape(b)]);
    expect(valueOf(expA, 'keygate_requests_total', { reason: 'allow' })).toBe(1);
    expect(samplesOf(expB, 'keygate_requests_total')).toEqual([]);
    expect(expA.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(expA.types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(expA.types.get('nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
    expect(a.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
