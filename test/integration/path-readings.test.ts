import { describe, expect, it } from 'vitest';
import { explain } from '../../src/proxy/explain.js';
import { useKeygate } from '../helpers/fixture.js';
import { frameworkUpstream } from '../helpers/frameworkUpstream.js';
import { send, type HttpAnswer } from '../helpers/fronts.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { replaceServices } from '../helpers/mainFile.js';

/**
 * Issues 21 and 23: deny rules, guardrails and routing hold however the upstream reads the
 * path. The upstream routes like Express/Rails/Tomcat (case-insensitive, trailing-slash
 * tolerant, slash merging, `;` stripping, `.format`, HEAD as GET) and records what it ran;
 * every row asserts on that, through the proxy, through the decision API (nginx dialect)
 * and through `keygate explain`, which must all decide alike.
 */

const ops = newKey(); // joe, inherit, three deny rules
const reader = newKey(); // joe, restricted: read /v2/servers/** on every service

const POLICY = `roles:
  everything:
    - { service: "*", path: "/**" }
users:
  joe:
    roles: [everything]
guardrails:
  - service: identity
    method: [POST, PUT, PATCH, DELETE]
    path: /v3/users/*/credentials/**
`;

const KEYS = `keys:
${keyEntry(ops, 'joe', 'ops', [
  'scope: inherit',
  'deny:',
  '  - { service: "*", path: "/admin/**" }',
  '  - { service: "*", method: DELETE, path: "/items/*" }',
  '  - { service: "*", method: GET, path: "/secret/**" }',
])}
${keyEntry(reader, 'joe', 'reader', ['allow:', '  - { service: "*", method: read, path: "/v2/servers/**" }'])}
`;

const services = (origin: string): string => `  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: ${origin}
  - name: java
    route: { pathPrefix: /java, stripPrefix: true, allowSemicolon: true, allowEmptySegments: true }
    upstream: ${origin}
  - name: identity
    route: { pathPrefix: /identity, stripPrefix: true }
    upstream: ${origin}
  - name: admin
    route: { pathPrefix: /admin }
    upstream: ${origin}
  - name: legacy
    route: { pathPrefix: /legacy, stripPrefix: true, caseInsensitive: true }
    upstream: ${origin}
  - name: images
    route: { host: images.example.com }
    upstream: ${origin}/img
  - name: everything-else
    upstream: ${origin}
`;

const framework = frameworkUpstream([
  'GET /admin',
  'GET /admin/x',
  'GET /admin/users',
  'DELETE /items/:id',
  'GET /items/:id',
  'GET /secret/:x',
  'POST /v3/users/:u/credentials',
  'POST /v3/users/:u/credentials/:c',
  'GET /v2/servers/:id',
  'GET /img/x',
  'GET /x',
  'GET /evil.example/admin/x',
]);

const fx = useKeygate({
  handler: framework.handler,
  edit: (main, origin) => replaceServices(main, services(origin)),
  prepare: (cfg) => {
    cfg.write('policy.yaml', POLICY);
    cfg.write('keys.yaml', KEYS);
  },
});

interface Row {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly host?: string;
  readonly key: { readonly id: string; readonly key: string };
  readonly status: number;
  readonly reason: string;
  /** The route the upstream ran; undefined: it ran nothing. */
  readonly executed?: string;
}

const ROWS: readonly Row[] = [
  // issue 21
  {
    what: 'deny /admin/** vs a capitalised segment',
    method: 'GET',
    path: '/compute/Admin/x',
    key: ops,
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: '…its neighbour that no deny rule names',
    method: 'GET',
    path: '/compute/items/1',
    key: ops,
    status: 200,
    reason: 'allow',
    executed: 'GET /items/:id',
  },
  {
    what: 'a guardrail vs a capitalised segment',
    method: 'POST',
    path: '/identity/v3/users/u1/Credentials/c1',
    key: ops,
    status: 403,
    reason: 'guardrail',
  },
  {
    what: 'deny DELETE /items/* vs a trailing slash',
    method: 'DELETE',
    path: '/compute/items/1/',
    key: ops,
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'deny DELETE /items/* vs "//" (the service does not allow empty segments)',
    method: 'DELETE',
    path: '/compute/items//1',
    key: ops,
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'deny DELETE /items/* vs "//" on a service that allows them',
    method: 'DELETE',
    path: '/java/items//1',
    key: ops,
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: '"//" on a service that allows them, where no rule denies',
    method: 'GET',
    path: '/java/items//1',
    key: ops,
    status: 200,
    reason: 'allow',
    executed: 'GET /items/:id',
  },
  { what: 'deny GET /secret/** vs HEAD', method: 'HEAD', path: '/compute/secret/x', key: ops, status: 403, reason: 'key_deny_rule' },
  // issue 23
  {
    what: 'deny /admin/** vs a ;param on a service with allowSemicolon',
    method: 'GET',
    path: '/java/admin;jsessionid=x/users',
    key: ops,
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'deny /admin/** vs a .format suffix',
    method: 'GET',
    path: '/compute/admin.json',
    key: ops,
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'a guardrail vs a .format suffix',
    method: 'POST',
    path: '/identity/v3/users/u1/credentials.json',
    key: ops,
    status: 403,
    reason: 'guardrail',
  },
  {
    what: 'a route prefix matched only when case is ignored',
    method: 'GET',
    path: '/Admin/users',
    key: ops,
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'a Host with a trailing dot routes as the name',
    method: 'GET',
    path: '/x',
    host: 'images.example.com.',
    key: ops,
    status: 200,
    reason: 'allow',
    executed: 'GET /img/x',
  },
  { what: 'a malformed Host', method: 'GET', path: '/x', host: 'images..example.com', key: ops, status: 400, reason: 'bad_target' },
  {
    what: 'stripPrefix leaving "//host/…" (empty segments refused)',
    method: 'GET',
    path: '/compute//evil.example/admin/x',
    key: ops,
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'stripPrefix leaving "//host/…" (empty segments allowed)',
    method: 'GET',
    path: '/java//evil.example/admin/x',
    key: ops,
    status: 400,
    reason: 'bad_target',
  },
  // allow rules: byte for byte, or case-folded on a caseInsensitive service
  {
    what: 'an allow rule does not stretch to another case',
    method: 'GET',
    path: '/compute/V2/Servers/1',
    key: reader,
    status: 403,
    reason: 'key_scope_denied',
  },
  {
    what: 'an allow rule compares case-folded on a caseInsensitive service',
    method: 'GET',
    path: '/legacy/V2/Servers/1',
    key: reader,
    status: 200,
    reason: 'allow',
    executed: 'GET /v2/servers/:id',
  },
  {
    what: 'a caseInsensitive service matches its prefix ignoring case',
    method: 'GET',
    path: '/LEGACY/v2/servers/1',
    key: reader,
    status: 200,
    reason: 'allow',
    executed: 'GET /v2/servers/:id',
  },
  {
    what: 'a trailing slash under an allowed "/**" is still allowed',
    method: 'GET',
    path: '/legacy/v2/servers/1/',
    key: reader,
    status: 200,
    reason: 'allow',
    executed: 'GET /v2/servers/:id',
  },
];

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

function reasonOf(res: HttpAnswer): string | undefined {
  if (res.status === 200) return 'allow';
  return res.body === '' ? undefined : (JSON.parse(res.body) as { reason: string }).reason;
}

describe('path readings: deny rules, guardrails and routing hold however the upstream reads the path', () => {
  describe.each(['proxy', 'decision API (nginx dialect)'] as const)('%s', (entry) => {
    it.each(ROWS)('$what: $method $path → $status $reason', async (row) => {
      const before = framework.executed.length;
      const res =
        entry === 'proxy'
          ? await send(fx.kg.url('proxy'), {
              method: row.method,
              path: row.path,
              headers: { ...bearer(row.key.key), ...(row.host ? { host: row.host } : {}) },
            })
          : await send(fx.kg.url('check'), {
              path: '/_keygate',
              headers: {
                ...bearer(row.key.key),
                'x-original-method': row.method,
                'x-original-uri': row.path,
                ...(row.host ? { 'x-forwarded-host': row.host } : {}),
              },
            });
      expect(res.status).toBe(row.status);
      if (row.method !== 'HEAD' || entry !== 'proxy') expect(reasonOf(res)).toBe(row.reason);
      if (entry === 'proxy') {
        expect(framework.executed.slice(before).map((e) => e.route)).toEqual(row.executed ? [row.executed] : []);
      }
    });
  });

  it.each(ROWS)('explain agrees: $what', (row) => {
    const e = explain(fx.kg.app.snapshot(), {
      keyId: row.key.id,
      method: row.method,
      path: row.path,
      host: row.host,
      region: 'eu-west-1',
      service: undefined,
      clientIp: '127.0.0.1',
      now: Date.now(),
    });
    if ('problem' in e) throw new Error(e.message);
    expect({ status: e.status, reason: e.reason }).toEqual({ status: row.status, reason: row.reason });
  });

  it('shows what a denied row would have run: the upstream reads each path as the route the deny rule names', async () => {
    // Sent straight to the upstream (no keygate): the framework really runs the denied routes.
    const direct = (method: string, path: string): Promise<HttpAnswer> =>
      send(fx.kg.app.snapshot().services[0].upstream.origin, { method, path });
    const runs = async (method: string, path: string): Promise<string | undefined> => {
      const before = framework.executed.length;
      await direct(method, path);
      return framework.executed[before]?.route;
    };
    expect(await runs('GET', '/Admin/x')).toBe('GET /admin/x');
    expect(await runs('DELETE', '/items/1/')).toBe('DELETE /items/:id');
    expect(await runs('DELETE', '/items//1')).toBe('DELETE /items/:id');
    expect(await runs('HEAD', '/secret/x')).toBe('GET /secret/:x');
    expect(await runs('GET', '/admin;jsessionid=x/users')).toBe('GET /admin/users');
    expect(await runs('GET', '/admin.json')).toBe('GET /admin');
    expect(await runs('GET', '/Admin/users')).toBe('GET /admin/users');
  });
});
