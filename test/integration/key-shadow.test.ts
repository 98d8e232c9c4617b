import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const keygate = (...args: string[]) => runInProcess(args, { env: process.env });

/**
 * A key's own `shadow:` scope, end to end as the README's "tighten a key in three steps"
 * does it: `key rotate --shadow-allow` writes the candidate scope, live traffic shows what
 * it would refuse while the key keeps working, `key promote` makes it the scope (comments
 * kept) and the running proxy enforces it after the reload.
 */

const { monitoring } = DEMO_KEYS;
const NARROW = 'compute read /v2/p1/servers/**';

describe('per-key shadow scope: shadow, watch, promote', () => {
  let upstream: TestUpstream;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  let key = '';

  const call = async (path: string, requestId: string): Promise<number> => {
    const res = await fetch(`${kg.url()}${path}`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': requestId } });
    await res.arrayBuffer();
    return res.status;
  };
  const lineOf = (requestId: string): Promise<Record<string, unknown>> =>
    waitFor(() => kg.logs().find((l) => l.request_id === requestId && l.msg === 'request'));

  beforeAll(async () => {
    upstream = await startUpstream();
    cfg = tempConfig(upstream.origin, (m) => appendTopLevel(m, 'reload: { interval: 300ms, debounce: 20ms }'));
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    await upstream?.close();
    cfg?.cleanup();
  });

  it('key rotate --shadow-allow writes the candidate scope beside the scope, comments kept', async () => {
    const before = cfg.read('keys.yaml');
    const run = await keygate('key', 'rotate', '-c', cfg.mainFile, monitoring.id, '--shadow-allow', NARROW, '--json');
    expect(run.code, run.err).toBe(0);
    key = (JSON.parse(run.out) as { key: string }).key;
    const after = cfg.read('keys.yaml');
    expect(after).toContain('      - { service: compute, method: read, path: "/v2/*/servers/**" }\n    shadow:\n      allow:\n');
    expect(after).toContain('path: "/v2/p1/servers/**" }');
    for (const comment of before.split('\n').filter((l) => l.trim().startsWith('#'))) expect(after).toContain(comment);
    expect((await keygate('check', '-c', cfg.mainFile)).code).toBe(0);
    expect((await keygate('key', 'rotate', '-c', cfg.mainFile, monitoring.id, '--shadow-allow', 'nosuch read /**')).code).toBe(1);
  });

  it('live traffic keeps the scope; the line names what the candidate scope would refuse', async () => {
    await waitFor(async () => (await call('/compute/v2/p1/servers/1', `probe-${Date.now()}`)) === 200);
    expect(await call('/compute/v2/p2/servers/1', 'outside-candidate')).toBe(200);
    expect(await lineOf('outside-candidate')).toMatchObject({
      decision: 'allow',
      shadow_decision: 'deny',
      shadow_reason: 'key_scope_denied',
      shadow_rule: `key ${monitoring.id} allow rule 1: compute GET,HEAD /v2/*/servers/**`,
    });
    expect(await call('/compute/v2/p1/servers/1', 'inside-candidate')).toBe(200);
    expect(Object.keys(await lineOf('inside-candidate')).filter((k) => k.startsWith('shadow'))).toEqual([]);
  });

  it('key promote makes the candidate the scope in one atomic write, and the proxy enforces it', async () => {
    const before = cfg.read('keys.yaml');
    const run = await keygate('key', 'promote', '-c', cfg.mainFile, monitoring.id);
    expect(run.code, run.err).toBe(0);
    const after = cfg.read('keys.yaml');
    expect(after).not.toContain('shadow:');
    expect(after).toContain('    allow:\n      - { service: compute, method: read, path: "/v2/p1/servers/**" }\n');
    for (const comment of before.split('\n').filter((l) => l.trim().startsWith('#'))) expect(after).toContain(comment);
    await waitFor(async () => (await call('/compute/v2/p2/servers/1', `after-${Date.now()}`)) === 403);
    expect(await call('/compute/v2/p1/servers/1', 'promoted')).toBe(200);
    expect((await keygate('key', 'promote', '-c', cfg.mainFile, monitoring.id)).code).toBe(1); // nothing left to promote
  });
});
