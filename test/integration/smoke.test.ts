import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('keygate in front of a real upstream', () => {
  let upstream: TestUpstream;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  beforeAll(async () => {
    upstream = await startUpstream();
    cfg = tempConfig(upstream.origin);
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    await upstream?.close();
    cfg?.cleanup();
  });

  it('forwards an allowed request with the service token instead of the key', async () => {
    const res = await fetch(`${kg.url()}/compute/v2/p1/servers/42?q=1`, { headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` } });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.url).toBe('/v2/p1/servers/42?q=1');
    expect(seen.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    expect(seen.headers['x-keygate-key-id']).toBe(DEMO_KEYS.monitoring.id);
    expect(JSON.stringify(seen.headers)).not.toContain(DEMO_KEYS.monitoring.key);
  });

  it('denies outside the key scope without reaching the upstream', async () => {
    const before = upstream.seen.length;
    const res = await fetch(`${kg.url()}/compute/v2/p1/servers`, { method: 'POST', headers: { 'x-api-key': DEMO_KEYS.monitoring.key } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { reason: string }).reason).toBe('key_scope_denied');
    expect(upstream.seen.length).toBe(before);
  });
});
