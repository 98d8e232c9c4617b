import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend } from '../helpers/http.js';
import { replaceServices } from '../helpers/mainFile.js';

/** No catch-all: requests no service claims get 404 no_route, before any credential is looked at. */
const services = (origin: string): string => `
  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: ${origin}
  - name: identity
    route: { host: id.example.com, pathPrefix: /v3 }
    upstream: ${origin}
`;

describe('404: no route', () => {
  const fx = useKeygate({ edit: (main, origin) => replaceServices(main, services(origin)) });

  const key = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
  const rows: { desc: string; path: string; headers: Record<string, string>; status: number }[] = [
    { desc: 'the root', path: '/', headers: key, status: 404 },
    { desc: 'a path sharing only a string prefix', path: '/computers/v2', headers: key, status: 404 },
    { desc: 'a prefix in the middle of the path', path: '/x/compute/v2', headers: key, status: 404 },
    { desc: 'a host route, other host', path: '/v3/users', headers: { ...key, host: 'other.example.com' }, status: 404 },
    { desc: 'a host route, right host, other path', path: '/v2/users', headers: { ...key, host: 'id.example.com' }, status: 404 },
    { desc: 'no route is decided before credentials', path: '/nowhere', headers: {}, status: 404 },
    { desc: 'no route is decided before a bad key is verified', path: '/nowhere', headers: { authorization: 'Bearer nope' }, status: 404 },
    { desc: 'the host route matches (control)', path: '/v3/users', headers: { ...key, host: 'ID.example.com:443' }, status: 200 },
  ];

  it.each(rows)('$desc → $status', async ({ path, headers, status }) => {
    const before = fx.upstream.seen.length;
    const res = await httpSend(`${fx.kg.url()}${path}`, { headers });
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(fx.upstream.seen.length).toBe(before + 1);
      return;
    }
    expect(fx.upstream.seen.length).toBe(before);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(JSON.parse(res.body)).toEqual({
      type: 'about:blank',
      title: 'No route',
      status: 404,
      reason: 'no_route',
      detail: expect.any(String),
      requestId: res.headers['x-request-id'],
    });
  });
});
