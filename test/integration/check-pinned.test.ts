import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { send } from '../helpers/fronts.js';

/**
 * `listen.check.dialect` pinned: the other dialects' headers are ignored, never trusted.
 * MON may read /compute/v2/*\/servers/** only.
 */
const MON = DEMO_KEYS.monitoring.key;

function pinned(dialect: string): (main: string) => string {
  return (main) => main.replace('dialect: auto', `dialect: ${dialect}`);
}

describe('decision API pinned to envoy', () => {
  const stack = useKeygate({ edit: pinned('envoy') });

  it("a client's X-Original-URI or X-Forwarded-Uri that reaches keygate is ignored: the check request's own path is decided", async () => {
    for (const header of ['x-original-uri', 'x-forwarded-uri']) {
      const res = await send(stack.kg.url('check'), {
        path: '/identity/v3/users', // what Envoy forwards: outside MON's scope
        headers: { 'x-api-key': MON, [header]: '/compute/v2/p1/servers/1', 'x-original-method': 'GET', 'x-forwarded-method': 'GET' },
      });
      expect(res.status, header).toBe(403);
    }
    const allowed = await send(stack.kg.url('check'), {
      path: '/compute/v2/p1/servers/1',
      headers: { 'x-api-key': MON, 'x-original-uri': '/identity/v3/users', 'x-original-method': 'GET' },
    });
    expect(allowed.status).toBe(200);
  });
});

describe('decision API pinned to nginx', () => {
  const stack = useKeygate({ edit: pinned('nginx') });

  it('reads X-Original-URI and ignores a Traefik header instead of refusing both', async () => {
    const res = await send(stack.kg.url('check'), {
      path: '/_keygate',
      headers: {
        'x-api-key': MON,
        'x-original-uri': '/compute/v2/p1/servers/1',
        'x-original-method': 'GET',
        'x-forwarded-uri': '/identity/v3/users',
      },
    });
    expect(res.status).toBe(200);
  });

  it('a check request without X-Original-URI is 400, never read as Envoy', async () => {
    const res = await send(stack.kg.url('check'), { path: '/compute/v2/p1/servers/1', headers: { 'x-api-key': MON } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).reason).toBe('bad_target');
  });

  it('methodOverride: strip cannot be honoured by nginx: an override header is refused there', async () => {
    // compute keeps the default (reject): 400 either way; the strip case is in the unit tests of access
    const res = await send(stack.kg.url('check'), {
      path: '/_keygate',
      headers: {
        'x-api-key': MON,
        'x-original-uri': '/compute/v2/p1/servers/1',
        'x-original-method': 'POST',
        'x-http-method-override': 'GET',
      },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).reason).toBe('method_override');
  });
});

describe('decision API with methodOverride: strip', () => {
  const stack = useKeygate({ edit: (main) => main.replace('  - name: compute\n', '  - name: compute\n    methodOverride: strip\n') });
  const DEPLOY = DEMO_KEYS.deploy.key;

  it('Envoy: the override headers are named for removal', async () => {
    const res = await send(stack.kg.url('check'), {
      method: 'POST',
      path: '/compute/v2/p1/servers/1',
      headers: { 'x-api-key': DEPLOY, 'x-http-method-override': 'DELETE' },
    });
    expect(res.status).toBe(200);
    expect(String(res.headers['x-envoy-auth-headers-to-remove'])).toContain('x-http-method-override');
  });

  it('Envoy: a _method query parameter cannot be stripped from the path Envoy forwards: refused', async () => {
    const res = await send(stack.kg.url('check'), {
      method: 'POST',
      path: '/compute/v2/p1/servers/1?_method=DELETE',
      headers: { 'x-api-key': DEPLOY },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).reason).toBe('method_override');
  });

  it('nginx and Traefik cannot remove headers: an override header is refused', async () => {
    const nginx = await send(stack.kg.url('check'), {
      path: '/_keygate',
      headers: {
        'x-api-key': DEPLOY,
        'x-original-uri': '/compute/v2/p1/servers/1',
        'x-original-method': 'POST',
        'x-http-method-override': 'DELETE',
      },
    });
    expect(nginx.status).toBe(400);
    const traefik = await send(stack.kg.url('check'), {
      path: '/',
      headers: {
        'x-api-key': DEPLOY,
        'x-forwarded-uri': '/compute/v2/p1/servers/1',
        'x-forwarded-method': 'POST',
        'x-method-override': 'DELETE',
      },
    });
    expect(traefik.status).toBe(400);
  });
});
