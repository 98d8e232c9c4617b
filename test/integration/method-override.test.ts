import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { executed } from '../helpers/overrideUpstream.js';
import { send } from '../helpers/fronts.js';

/**
 * `methodOverride: authorize` and `strip`, and `methodOverrideInBody: false`, against an
 * upstream that runs overrides the way Express, Laravel and Symfony do. (The default,
 * `reject`, is in the shared security suite.)
 */
const DEPLOY = `Bearer ${DEMO_KEYS.deploy.key}`; // joe, inherit: may POST and GET, never DELETE on compute
const MON = `Bearer ${DEMO_KEYS.monitoring.key}`; // joe, restricted: compute read only

describe('method overrides per service', () => {
  const stack = useKeygate({
    edit: (main) =>
      main
        .replace('  - name: compute\n', '  - name: compute\n    methodOverride: authorize\n')
        .replace('  - name: identity\n', '  - name: identity\n    methodOverride: strip\n    methodOverrideInBody: false\n'),
  });
  const proxy = (): string => stack.kg.url('proxy');
  const last = (): ReturnType<typeof executed> => executed(stack.upstream.seen.at(-1)!);

  it('authorize: an override the key may use is forwarded and executed', async () => {
    const res = await send(proxy(), {
      method: 'POST',
      path: '/compute/v2/p1/servers/1',
      headers: { authorization: DEPLOY, 'x-http-method-override': 'get' },
    });
    expect(res.status).toBe(200);
    expect(last()).toEqual({ method: 'GET', path: '/v2/p1/servers/1' });
  });

  it('authorize: an overridden method the key may not use is denied with its reason', async () => {
    const before = stack.upstream.seen.length;
    const res = await send(proxy(), {
      method: 'POST',
      path: '/compute/v2/p1/servers/1?_method=DELETE',
      headers: { authorization: DEPLOY },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).reason).toBe('key_deny_rule');
    expect(stack.upstream.seen.length).toBe(before);
  });

  it('authorize: the real method must be allowed too (a GET-only key cannot smuggle GET into a POST)', async () => {
    const res = await send(proxy(), {
      method: 'POST',
      path: '/compute/v2/p1/servers/1',
      headers: { authorization: MON, 'x-http-method-override': 'GET' },
    });
    expect(res.status).toBe(403);
  });

  it('strip: the headers and the _method parameter are removed; the upstream runs the real method', async () => {
    const res = await send(proxy(), {
      method: 'POST',
      path: '/identity/v3/users?a=1&_method=DELETE&b=2&%5Fmethod=PUT',
      headers: [
        'Authorization',
        `Bearer ${DEMO_KEYS.aliceAdmin.key}`,
        'X-HTTP-Method-Override',
        'DELETE',
        'X_Method_Override',
        'DELETE',
        'X-HTTP-Method',
        'PUT',
      ],
    });
    expect(res.status).toBe(200);
    const seen = stack.upstream.seen.at(-1)!;
    expect(seen.url).toBe('/identity/v3/users?a=1&b=2');
    expect(JSON.stringify(seen.rawHeaders).toLowerCase()).not.toMatch(/method[-_]override|x-http-method/);
    expect(executed(seen)).toEqual({ method: 'POST', path: '/identity/v3/users' });
  });

  it('methodOverrideInBody: false forwards a form body with _method without looking', async () => {
    const res = await send(proxy(), {
      method: 'POST',
      path: '/identity/v3/users',
      headers: { authorization: `Bearer ${DEMO_KEYS.aliceAdmin.key}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '_method=PUT&name=x',
    });
    expect(res.status).toBe(200);
    expect(stack.upstream.seen.at(-1)!.bodyBytes).toBe(18);
  });

  it('a form body whose start arrives slowly is still inspected, then forwarded whole', async () => {
    const { request } = await import('node:http');
    const url = new URL(proxy());
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/compute/v2/p1/servers/1',
          agent: false,
          headers: { authorization: DEPLOY, 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('name=x&');
      setImmediate(() => req.end('_method=DELETE'));
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).reason).toBe('key_deny_rule');
  });
});
