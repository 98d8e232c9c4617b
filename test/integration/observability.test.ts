import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

/** Known traffic in, known metric deltas and log lines out; no secret ever in the output. */
describe('metrics and access logs after real traffic', () => {
  const fx = useKeygate();

  const scrape = async (): Promise<ReturnType<typeof parseExposition>> =>
    parseExposition(await (await fetch(`${fx.kg.url('admin')}/metrics`)).text());
  const requests = (m: ReturnType<typeof parseExposition>, labels: Record<string, string>): number =>
    valueOf(m, 'keygate_requests_total', { mode: 'proxy', ...labels }) ?? 0;

  it('counts allowed and denied requests by precise reason and observes durations', async () => {
    const before = await scrape();
    const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> =>
      fetch(`${fx.kg.url()}${path}`, { method, headers });
    expect((await get('/compute/v2/p/servers/1', { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` })).status).toBe(200);
    expect((await get('/compute/v2/p/servers/1', { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` })).status).toBe(200);
    expect((await get('/compute/v2/p/servers', { 'x-api-key': DEMO_KEYS.monitoring.key }, 'POST')).status).toBe(403);
    const wrongSecret = DEMO_KEYS.monitoring.key.slice(0, 20) + 'x'.repeat(DEMO_KEYS.monitoring.key.length - 20);
    expect((await get('/compute/v2/p/servers/1', { authorization: `Bearer ${wrongSecret}` })).status).toBe(401);
    expect((await get('/compute/v2/p/servers/1', { authorization: 'Bearer not-a-key' })).status).toBe(401);
    expect((await get('/nowhere', { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` })).status).toBe(404);
    const after = await scrape();
    const delta = (labels: Record<string, string>): number => requests(after, labels) - requests(before, labels);
    expect(delta({ service: 'compute', method: 'GET', decision: 'allow', reason: 'allow' })).toBe(2);
    expect(delta({ service: 'compute', method: 'POST', decision: 'deny', reason: 'key_scope_denied' })).toBe(1);
    expect(delta({ service: 'compute', method: 'GET', decision: 'deny', reason: 'malformed_credentials' })).toBe(1);
    expect(delta({ service: 'compute', method: 'GET', decision: 'deny', reason: 'unknown_key' })).toBe(1);
    expect(delta({ service: 'none', method: 'GET', decision: 'deny', reason: 'no_route' })).toBe(1);
    const histCount = (name: string, labels: Record<string, string>): number =>
      (valueOf(after, `${name}_count`, labels) ?? 0) - (valueOf(before, `${name}_count`, labels) ?? 0);
    expect(histCount('keygate_request_duration_seconds', { service: 'compute', decision: 'allow', mode: 'proxy' })).toBe(2);
    expect(histCount('keygate_upstream_duration_seconds', { service: 'compute', status_class: '2xx' })).toBe(2);
    expect(histCount('keygate_decision_duration_seconds', {})).toBe(6);
    expect(valueOf(after, 'keygate_requests_in_flight', {})).toBe(0);
    expect(valueOf(after, 'keygate_keys', { state: 'active' })).toBe(3);
  });

  it('writes one access line per request with the precise reason', async () => {
    const res = await fetch(`${fx.kg.url()}/compute/v2/p/servers/9?secret=query`, {
      headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}`, 'x-request-id': 'trace-123' },
    });
    expect(res.status).toBe(200);
    const line = fx.kg.logs().find((l) => l.request_id === 'trace-123');
    expect(line).toMatchObject({
      msg: 'request',
      mode: 'proxy',
      method: 'GET',
      path: '/compute/v2/p/servers/9',
      service: 'compute',
      key_id: DEMO_KEYS.deploy.id,
      key_name: 'deploy',
      user: 'joe',
      decision: 'allow',
      reason: 'allow',
      status: 200,
    });
    expect(typeof line?.decision_ms).toBe('number');
    expect(typeof line?.upstream_ms).toBe('number');
  });

  it('never writes a key, a secret or a service token to the logs', async () => {
    const secrets = [DEMO_KEYS.monitoring.key, DEMO_KEYS.deploy.key, DEMO_KEYS.aliceAdmin.key, DEMO_TOKENS.compute, DEMO_TOKENS.identity];
    const basic = Buffer.from(`me:${DEMO_KEYS.deploy.key}`).toString('base64');
    const attempts: [string, Record<string, string>, string?][] = [
      ['/compute/v2/p/servers/1', { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` }],
      ['/compute/v2/p/servers', { 'x-api-key': DEMO_KEYS.monitoring.key }, 'DELETE'],
      ['/identity/v3/users/u/credentials/x', { authorization: `Basic ${basic}` }, 'POST'],
      ['/compute/v2/p/servers/1', { authorization: `Bearer ${DEMO_KEYS.aliceAdmin.key}x` }],
      ['/compute/v2/p/servers/1', { authorization: `Token ${DEMO_KEYS.deploy.key}` }],
      ['/compute/v2/%2e%2e/servers', { authorization: `Bearer ${DEMO_KEYS.deploy.key}` }],
      ['/compute/v2/p/servers/1', { authorization: `Bearer ${DEMO_KEYS.deploy.key}`, 'x-api-key': DEMO_KEYS.monitoring.key }],
    ];
    for (const [path, headers, method] of attempts)
      await (await fetch(`${fx.kg.url()}${path}`, { method: method ?? 'GET', headers })).arrayBuffer();
    const text = fx.kg.logText();
    expect(text.length).toBeGreaterThan(0);
    for (const s of [...secrets, basic]) expect(text).not.toContain(s);
    expect(text).not.toContain(DEMO_KEYS.deploy.key.slice(16, 40));
  });
});
