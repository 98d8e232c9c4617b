import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { send } from '../helpers/fronts.js';

/**
 * The headers keygate owns on the way up, with the options the shared security suite's
 * default config does not set: a trusted front proxy, `forwardedHeader`,
 * `keepUrlOverrides`, `allowTrace`.
 */
const MON = `Bearer ${DEMO_KEYS.monitoring.key}`;
const ALICE = `Bearer ${DEMO_KEYS.aliceAdmin.key}`;
const ALLOWED = '/compute/v2/p1/servers/42';

describe('client-address and URL-override headers, per service', () => {
  const stack = useKeygate({
    edit: (main) =>
      main
        .replace('listen:\n', 'listen:\n  trustedProxies: [127.0.0.1/32]\n')
        .replace('  - name: compute\n', '  - name: compute\n    forwardedHeader: true\n    allowTrace: true\n')
        .replace('  - name: identity\n', '  - name: identity\n    keepUrlOverrides: [X-Forwarded-Prefix]\n'),
  });
  const proxy = (): string => stack.kg.url('proxy');

  it('a trusted peer: X-Real-IP is the client resolved through X-Forwarded-For; its X-Forwarded-Host/-Proto are appended to', async () => {
    const res = await send(proxy(), {
      path: ALLOWED,
      headers: {
        authorization: MON,
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-host': 'api.example.com',
        'x-forwarded-proto': 'https',
        'x-real-ip': '6.6.6.6',
      },
    });
    expect(res.status).toBe(200);
    const seen = stack.upstream.seen.at(-1)!;
    expect(seen.headers['x-real-ip']).toBe('203.0.113.7');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https, http');
    expect(String(seen.headers['x-forwarded-host'])).toMatch(/^api\.example\.com, 127\.0\.0\.1:\d+$/);
  });

  it("forwardedHeader: keygate sets Forwarded from what it resolved; the client's is gone", async () => {
    await send(proxy(), {
      path: ALLOWED,
      headers: { authorization: MON, forwarded: 'for=1.2.3.4;host=evil.example', 'x-forwarded-for': '203.0.113.7' },
    });
    const seen = stack.upstream.seen.at(-1)!;
    expect(seen.headers.forwarded).toMatch(/^for=203\.0\.113\.7;host="?127\.0\.0\.1:\d+"?;proto=http$/);
  });

  it('without forwardedHeader no Forwarded is sent; keepUrlOverrides passes the kept one only', async () => {
    await send(proxy(), {
      path: '/identity/v3/users',
      headers: { authorization: ALICE, forwarded: 'for=1.2.3.4', 'x-forwarded-prefix': '/identity', 'x-original-url': '/v3/admin' },
    });
    const seen = stack.upstream.seen.at(-1)!;
    expect(seen.headers.forwarded).toBeUndefined();
    expect(seen.headers['x-forwarded-prefix']).toBe('/identity');
    expect(seen.headers['x-original-url']).toBeUndefined();
  });

  it('allowTrace: TRACE is forwarded, but without the service token or identity headers', async () => {
    const res = await send(proxy(), { method: 'TRACE', path: ALLOWED, headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` } });
    expect(res.status).toBe(200);
    const seen = stack.upstream.seen.at(-1)!;
    expect(seen.method).toBe('TRACE');
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(DEMO_TOKENS.compute);
    expect(JSON.stringify(seen.rawHeaders).toLowerCase()).not.toContain('x-keygate-');
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(DEMO_KEYS.deploy.key);
  });

  it('the decision API denies TRACE even where the proxy allows it', async () => {
    const res = await send(stack.kg.url('check'), {
      method: 'TRACE',
      path: ALLOWED,
      headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` },
    });
    expect(res.status).toBe(405);
    expect(JSON.parse(res.body).reason).toBe('method_not_allowed');
  });

  it('an override naming TRACE is refused even where TRACE is allowed and overrides are authorized', async () => {
    const res = await send(proxy(), {
      method: 'POST',
      path: `${ALLOWED}?_method=TRACE`,
      headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` },
    });
    expect(res.status).toBe(400); // compute keeps the default methodOverride: reject
  });
});
