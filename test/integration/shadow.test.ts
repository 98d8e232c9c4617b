import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

/**
 * keygate.yaml `shadow`: a candidate policy judges every request beside the live one, on
 * the proxy and the decision API; only the live answer reaches the client, and a
 * disagreement shows in the access line and keygate_shadow_disagreements_total.
 */

/** The candidate: a guardrail on compute's secrets (live allows them) and compute-admin for alice (live denies her). */
function candidatePolicy(live: string): string {
  const withRole = live.replace('roles: [identity-admin, reader]', 'roles: [identity-admin, reader, compute-admin]');
  const guarded = `${withRole.trimEnd()}\n  - { service: compute, method: GET, path: "/v2/*/servers/*/secrets/**" }\n`;
  if (withRole === live || !guarded.includes('secrets')) throw new Error('config/policy.yaml changed: adjust the shadow test');
  return guarded;
}

describe('shadow policy on live traffic', () => {
  const fx = useKeygate({
    edit: (main) =>
      appendTopLevel(appendTopLevel(main, 'shadow: { policy: ./policy.next.yaml }'), 'reload: { interval: 300ms, debounce: 20ms }'),
    prepare: (cfg) => cfg.write('policy.next.yaml', candidatePolicy(cfg.read('policy.yaml'))),
  });

  const call = async (path: string, key: string, method = 'GET', requestId = `shadow-${Math.random()}`): Promise<number> => {
    const res = await fetch(`${fx.kg.url()}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'x-request-id': requestId } });
    await res.arrayBuffer();
    return res.status;
  };
  const lineOf = (requestId: string): Promise<Record<string, unknown>> =>
    waitFor(() => fx.kg.logs().find((l) => l.request_id === requestId && l.msg === 'request'));
  const disagreements = async (labels: Record<string, string>): Promise<number> =>
    valueOf(parseExposition(await (await fetch(`${fx.kg.url('admin')}/metrics`)).text()), 'keygate_shadow_disagreements_total', labels) ??
    0;

  it('answers with the live policy while the line and the counter show what the candidate would deny', async () => {
    const before = await disagreements({ service: 'compute', live: 'allow', shadow: 'deny' });
    const seen = fx.upstream.seen.length;
    expect(await call('/compute/v2/p1/servers/7/secrets/db', DEMO_KEYS.monitoring.key, 'GET', 'would-deny')).toBe(200);
    expect(fx.upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/v2/p1/servers/7/secrets/db']);
    const line = await lineOf('would-deny');
    expect(line).toMatchObject({
      decision: 'allow',
      reason: 'allow',
      status: 200,
      host: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      shadow_decision: 'deny',
      shadow_reason: 'guardrail',
      shadow_rule: 'guardrail rule 2: compute GET /v2/*/servers/*/secrets/**',
    });
    expect(await disagreements({ service: 'compute', live: 'allow', shadow: 'deny' })).toBe(before + 1);
  });

  it('leaves agreeing requests unmarked', async () => {
    expect(await call('/compute/v2/p1/servers/7', DEMO_KEYS.monitoring.key, 'GET', 'agrees')).toBe(200);
    expect(await call('/compute/v2/p1/servers/7', DEMO_KEYS.monitoring.key, 'DELETE', 'agrees-deny')).toBe(403);
    for (const id of ['agrees', 'agrees-deny']) expect(Object.keys(await lineOf(id)).filter((k) => k.startsWith('shadow'))).toEqual([]);
  });

  it('names the rule the candidate adds when it would allow what the live policy denies', async () => {
    expect(await call('/compute/v2/p1/servers', DEMO_KEYS.aliceAdmin.key, 'POST', 'would-allow')).toBe(403);
    expect(await lineOf('would-allow')).toMatchObject({
      decision: 'deny',
      reason: 'user_denied',
      shadow_decision: 'allow',
      shadow_reason: 'allow',
      shadow_rule: 'role compute-admin rule 1: compute * /v2/*/servers/**',
    });
    expect(await disagreements({ service: 'compute', live: 'deny', shadow: 'allow' })).toBe(1);
  });

  it('judges decision API checks the same way', async () => {
    const res = await fetch(`${fx.kg.url('check')}/`, {
      headers: {
        authorization: `Bearer ${DEMO_KEYS.monitoring.key}`,
        'x-original-uri': '/compute/v2/p1/servers/7/secrets/db?x=1',
        'x-original-method': 'GET',
        'x-request-id': 'check-would-deny',
      },
    });
    expect(res.status).toBe(200);
    expect(await lineOf('check-would-deny')).toMatchObject({
      mode: 'check',
      decision: 'allow',
      shadow_decision: 'deny',
      shadow_reason: 'guardrail',
    });
  });

  it('reports an invalid candidate and ignores it, leaving live traffic alone', async () => {
    const generation = fx.kg.app.snapshot().generation;
    fx.cfg.write('policy.next.yaml', 'roles:\n  reader:\n    - { service: nosuch, path: "/**" }\n');
    const error = await waitFor(() => fx.kg.logs().find((l) => l.event === 'shadow_invalid'));
    expect(error).toMatchObject({ level: 'error', file: fx.cfg.path('policy.next.yaml'), line: 3 });
    expect(fx.kg.app.snapshot().generation).toBeGreaterThan(generation);
    expect(fx.kg.app.snapshot().shadow).toBeUndefined();
    expect(await call('/compute/v2/p1/servers/7/secrets/db', DEMO_KEYS.monitoring.key, 'GET', 'after-invalid')).toBe(200);
    expect(Object.keys(await lineOf('after-invalid')).filter((k) => k.startsWith('shadow'))).toEqual([]);
    const reloaded = fx.kg.logs().filter((l) => l.event === 'reloaded');
    expect(reloaded.at(-1)).toMatchObject({ shadow: 'invalid' });
  });
});
