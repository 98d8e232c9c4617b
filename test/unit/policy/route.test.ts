import { describe, expect, it } from 'vitest';
import {
  hostName,
  normalizePrefix,
  parseHost,
  ROUTE_PROBLEMS,
  routeRequest,
  type Routed,
  type RouteRefusal,
  type RouteSpec,
} from '../../../src/policy/route.js';

const routed = <S extends RouteSpec>(r: Routed<S> | RouteRefusal | undefined): Routed<S> | undefined =>
  r && 'refused' in r ? undefined : r;

const SERVICES: RouteSpec[] = [
  { name: 'compute', pathPrefix: '/compute', stripPrefix: true },
  { name: 'compute-raw', pathPrefix: '/compute-raw', stripPrefix: false },
  { name: 'images', host: 'images.example.com', stripPrefix: false },
  { name: 'images-v2', host: 'images.example.com', pathPrefix: '/v2', stripPrefix: true },
  { name: 'fallback', stripPrefix: false },
];

describe('routeRequest', () => {
  it.each([
    { desc: 'the prefix itself', host: undefined, path: '/compute', service: 'compute', local: '/' },
    { desc: 'under the prefix, stripped', host: undefined, path: '/compute/v2/x', service: 'compute', local: '/v2/x' },
    { desc: 'the prefix with a trailing slash', host: undefined, path: '/compute/', service: 'compute', local: '/' },
    {
      desc: '/computers is not under /compute (whole segments)',
      host: undefined,
      path: '/computers/x',
      service: 'fallback',
      local: '/computers/x',
    },
    {
      desc: '/compute-raw is its own service, not /compute',
      host: undefined,
      path: '/compute-raw/x',
      service: 'compute-raw',
      local: '/compute-raw/x',
    },
    {
      desc: 'stripPrefix false keeps the whole path',
      host: undefined,
      path: '/compute-raw',
      service: 'compute-raw',
      local: '/compute-raw',
    },
    { desc: 'a host route', host: 'images.example.com', path: '/v1/a', service: 'images', local: '/v1/a' },
    { desc: 'a host route ignores the port', host: 'images.example.com:8443', path: '/a', service: 'images', local: '/a' },
    { desc: 'a host route ignores case', host: 'Images.EXAMPLE.com', path: '/a', service: 'images', local: '/a' },
    {
      desc: 'first match wins: host-only listed before host+prefix',
      host: 'images.example.com',
      path: '/v2/a',
      service: 'images',
      local: '/v2/a',
    },
    { desc: 'another host falls through to the catch-all', host: 'other.example.com', path: '/a', service: 'fallback', local: '/a' },
    { desc: 'no Host header skips host routes', host: undefined, path: '/a', service: 'fallback', local: '/a' },
    { desc: 'the catch-all takes the root', host: undefined, path: '/', service: 'fallback', local: '/' },
    { desc: 'a prefix route matches on any host', host: 'images.example.com', path: '/compute/x', service: 'compute', local: '/x' },
  ])('$desc → $service $local', ({ host, path, service, local }) => {
    const r = routed(routeRequest(SERVICES, host, path));
    expect({ service: r?.service.name, path: r?.path }).toEqual({ service, path: local });
  });

  it('returns undefined when nothing matches and there is no catch-all', () => {
    expect(routeRequest(SERVICES.slice(0, 4), undefined, '/nothing')).toBe(undefined);
    expect(routeRequest(SERVICES.slice(0, 4), undefined, '/computers')).toBe(undefined);
  });

  it('routes host + prefix when the host-only route is not listed first', () => {
    const r = routed(routeRequest([SERVICES[3], SERVICES[2]], 'images.example.com', '/v2/a/b'));
    expect({ service: r?.service.name, path: r?.path }).toEqual({ service: 'images-v2', path: '/a/b' });
  });

  it('treats a "/" prefix as a catch-all', () => {
    expect(routed(routeRequest([{ name: 'all', pathPrefix: '/', stripPrefix: true }], undefined, '/a/b'))?.path).toBe('/a/b');
  });
});

describe('route prefixes and case (issue 23)', () => {
  const ADMIN: RouteSpec[] = [
    { name: 'admin', pathPrefix: '/admin', stripPrefix: false },
    { name: 'legacy', pathPrefix: '/Legacy', stripPrefix: true, caseInsensitive: true },
    { name: 'catch-all', stripPrefix: false },
  ];

  it.each(['/Admin/users', '/ADMIN', '/aDmIn/x'])('refuses %s: it reaches /admin only when case is ignored', (path) => {
    expect(routeRequest(ADMIN, undefined, path)).toEqual({ refused: ROUTE_PROBLEMS.prefixCase });
  });

  it.each([
    { path: '/admin/users', service: 'admin', local: '/admin/users' },
    { path: '/Legacy/x', service: 'legacy', local: '/x' },
    { path: '/legacy/x', service: 'legacy', local: '/x' },
    { path: '/LEGACY', service: 'legacy', local: '/' },
    { path: '/Administrators', service: 'catch-all', local: '/Administrators' },
    { path: '/adm1n/x', service: 'catch-all', local: '/adm1n/x' },
  ])('routes $path to $service as $local', ({ path, service, local }) => {
    const r = routed(routeRequest(ADMIN, undefined, path));
    expect({ service: r?.service.name, path: r?.path }).toEqual({ service, path: local });
  });

  it('folds only letters: "@" and "`" differ by the case bit but are not a case pair', () => {
    expect(
      routed(
        routeRequest(
          [
            { name: 'at', pathPrefix: '/@x', stripPrefix: false },
            { name: 'all', stripPrefix: false },
          ],
          undefined,
          '/`x',
        ),
      )?.service.name,
    ).toBe('all');
  });
});

describe('Host (issue 23)', () => {
  const HOSTS: RouteSpec[] = [
    { name: 'images', host: 'images.example.com', stripPrefix: false },
    { name: 'catch-all', stripPrefix: false },
  ];

  it.each(['images.example.com.', 'IMAGES.example.com.:8443', 'images.example.com'])(
    'routes %s to the host route (one trailing dot is the same name)',
    (host) => {
      expect(routed(routeRequest(HOSTS, host, '/'))?.service.name).toBe('images');
    },
  );

  it.each([
    'images.example.com..',
    'images..example.com',
    'a/b',
    'a b',
    'a:1:2',
    'a:123456',
    '.images.example.com',
    '[::1',
    'images.example.com%2e',
    '@evil',
  ])('refuses the malformed Host %j', (host) => {
    expect(routeRequest(HOSTS, host, '/')).toEqual({ refused: ROUTE_PROBLEMS.malformedHost });
  });

  it.each([
    { host: 'Example.COM.', name: 'example.com' },
    { host: '', name: '' },
    { host: '[::1]', name: '[::1]' },
    { host: 'my_svc:80', name: 'my_svc' },
    { host: 'x..', name: null },
  ])('parseHost($host) = $name', ({ host, name }) => {
    expect(parseHost(host)).toBe(name);
  });
});

describe('hostName and normalizePrefix', () => {
  it.each([
    { host: 'Example.COM:8080', name: 'example.com' },
    { host: 'example.com', name: 'example.com' },
    { host: '[::1]:80', name: '[::1]' },
    { host: '[2001:DB8::1]', name: '[2001:db8::1]' },
    { host: ' example.com ', name: 'example.com' },
    { host: 'example.com.', name: 'example.com' },
  ])('hostName($host) = $name', ({ host, name }) => {
    expect(hostName(host)).toBe(name);
  });

  it('drops one trailing slash from a prefix but keeps "/"', () => {
    expect(normalizePrefix('/compute/')).toBe('/compute');
    expect(normalizePrefix('/compute')).toBe('/compute');
    expect(normalizePrefix('/')).toBe('/');
  });
});
