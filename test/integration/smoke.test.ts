import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';

describe('keygate in front of a real upstream', () => {
  const fx = useKeygate();

  it('forwards an allowed request with the service token instead of the key', async () => {
    const res = await fetch(`${fx.kg.url()}/compute/v2/p1/servers/42?q=1`, {
      headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` },
    });
    expect(res.status).toBe(200);
    const seen = fx.upstream.seen.at(-1)!;
    expect(seen.url).toBe('/v2/p1/servers/42?q=1');
    expect(seen.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    expect(seen.headers['x-keygate-key-id']).toBe(DEMO_KEYS.monitoring.id);
    expect(JSON.stringify(seen.headers)).not.toContain(DEMO_KEYS.monitoring.key);
  });

  it('denies outside the key scope without reaching the upstream', async () => {
    const before = fx.upstream.seen.length;
    const res = await fetch(`${fx.kg.url()}/compute/v2/p1/servers`, { method: 'POST', headers: { 'x-api-key': DEMO_KEYS.monitoring.key } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { reason: string }).reason).toBe('key_scope_denied');
    expect(fx.upstream.seen.length).toBe(before);
  });
});
