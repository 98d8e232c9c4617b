import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKey, generateSecret } from '../../src/auth/keyFormat.js';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { send, type Dialect, type HttpAnswer } from '../helpers/fronts.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';

/**
 * The decision API (SPEC §6) in its three dialects, spoken directly to listen.check:
 * an allowed request answers 200 with the headers the upstream should receive, and
 * each kind of denial answers the proxy's status and problem+json.
 */

const MON = DEMO_KEYS.monitoring; // joe, restricted: compute read /v2/*/servers/**
const DEPLOY = DEMO_KEYS.deploy; // joe, inherit, deny compute DELETE
const ALICE = DEMO_KEYS.aliceAdmin; // alice, inherit: identity-admin + reader
const BAD_SECRET = formatKey(MON.id, generateSecret()); // well-formed, checksum valid: bad_secret

/** The client's request as a front proxy would describe it to keygate. */
interface Original {
  readonly method?: string;
  readonly uri: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
}

/** Builds the check request each front proxy sends for `o`. */
function checkRequest(dialect: Dialect, o: Original): { method: string; path: string; headers: Record<string, string> } {
  const method = o.method ?? 'GET';
  const host = o.host ?? 'api.test';
  switch (dialect) {
    case 'envoy':
      return { method, path: o.uri, headers: { host, ...o.headers } };
    case 'nginx':
      return {
        method: 'GET',
        path: '/_keygate',
        headers: { 'x-original-uri': o.uri, 'x-original-method': method, 'x-forwarded-host': host, ...o.headers },
      };
    case 'traefik':
      return {
        method: 'GET',
        path: '/',
        headers: {
          'x-forwarded-uri': o.uri,
          'x-forwarded-method': method,
          'x-forwarded-host': host,
          'x-forwarded-proto': 'http',
          ...o.headers,
        },
      };
  }
}

const DIALECTS: readonly Dialect[] = ['envoy', 'nginx', 'traefik'];

interface Denial {
  readonly what: string;
  readonly original: Original;
  readonly status: number;
  readonly reason: string;
}

const DENIALS: readonly Denial[] = [
  {
    what: 'a dot segment (400 bad_target)',
    original: { uri: '/compute/v2/p1/servers/%2e%2e/x', headers: { 'x-api-key': MON.key } },
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'an encoded slash (400 bad_target)',
    original: { uri: '/compute/v2/p1%2Fservers/1', headers: { 'x-api-key': MON.key } },
    status: 400,
    reason: 'bad_target',
  },
  { what: 'no key (401 missing_credentials)', original: { uri: '/compute/v2/p1/servers/1' }, status: 401, reason: 'missing_credentials' },
  {
    what: 'a garbled Authorization (401 malformed_credentials)',
    original: { uri: '/compute/v2/p1/servers/1', headers: { authorization: 'Bearer' } },
    status: 401,
    reason: 'malformed_credentials',
  },
  {
    what: 'a wrong secret (401 invalid_key)',
    original: { uri: '/compute/v2/p1/servers/1', headers: { authorization: `Bearer ${BAD_SECRET}` } },
    status: 401,
    reason: 'invalid_key',
  },
  {
    what: 'a method outside the key scope (403 key_scope_denied)',
    original: { method: 'POST', uri: '/compute/v2/p1/servers', headers: { 'x-api-key': MON.key } },
    status: 403,
    reason: 'key_scope_denied',
  },
  {
    what: 'a key deny rule (403 key_deny_rule)',
    original: { method: 'DELETE', uri: '/compute/v2/p1/servers/1', headers: { 'x-api-key': DEPLOY.key } },
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'a guardrail (403 guardrail)',
    original: { method: 'POST', uri: '/identity/v3/users/u1/credentials/x', headers: { 'x-api-key': ALICE.key } },
    status: 403,
    reason: 'guardrail',
  },
  {
    what: 'the key on another service (403 key_scope_denied)',
    original: { uri: '/identity/v3/users', headers: { 'x-api-key': MON.key } },
    status: 403,
    reason: 'key_scope_denied',
  },
  {
    what: 'a path no service routes (404 no_route)',
    original: { uri: '/computers/v2/p1', headers: { 'x-api-key': MON.key } },
    status: 404,
    reason: 'no_route',
  },
];

describe('decision API dialects', () => {
  let cfg: TempConfig;
  let kg: RunningKeygate;
  // A host-routed service first (first match wins): shows where each dialect reads the host from.
  const withHostedService = (main: string): string =>
    main.replace(
      'services:\n',
      ['services:', '  - name: hosted', '    route: { host: hosted.example.com }', '    upstream: http://127.0.0.1:1', ''].join('\n'),
    );
  beforeAll(async () => {
    cfg = tempConfig('http://127.0.0.1:1', withHostedService);
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    cfg?.cleanup();
  });

  const ask = (dialect: Dialect, o: Original): Promise<HttpAnswer> => send(kg.url('check'), checkRequest(dialect, o));

  describe.each(DIALECTS)('%s', (dialect) => {
    it('allows with the service token and identity headers for the upstream, and an empty body', async () => {
      const res = await ask(dialect, {
        uri: '/compute/v2/p1/servers/42?q=1',
        headers: { authorization: `Bearer ${MON.key}`, 'x-request-id': 'trace-1' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      expect(res.headers).toMatchObject({
        authorization: `Bearer ${DEMO_TOKENS.compute}`,
        'x-keygate-user': 'joe',
        'x-keygate-key-id': MON.id,
        'x-keygate-key-name': 'monitoring',
        'x-request-id': 'trace-1',
      });
      expect(JSON.stringify(res.headers)).not.toContain(MON.key);
    });

    it("puts the token in the service's own header and scheme", async () => {
      const res = await ask(dialect, { uri: '/identity/v3/users', headers: { 'x-api-key': ALICE.key } });
      expect(res.status).toBe(200);
      expect(res.headers['x-service-token']).toBe(DEMO_TOKENS.identity); // scheme '' = raw value
      expect(res.headers.authorization).toBeUndefined();
      expect(res.headers['x-keygate-key-name']).toBe('alice-admin');
    });

    it.each(DENIALS)('denies $what like the proxy', async ({ original, status, reason }) => {
      const res = await ask(dialect, original);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({ status, reason });
      expect(res.headers['x-keygate-user']).toBeUndefined();
      expect(res.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="keygate"/);
    });

    it('routes on the original host', async () => {
      const onHosted = await ask(dialect, {
        uri: '/compute/v2/p1/servers/1',
        host: 'hosted.example.com:8443',
        headers: { 'x-api-key': MON.key },
      });
      expect(onHosted.status).toBe(403); // the monitoring key is scoped to compute
      expect(JSON.parse(onHosted.body).reason).toBe('key_scope_denied');
    });

    it('checks HEAD as HEAD (read admits it)', async () => {
      const res = await ask(dialect, { method: 'HEAD', uri: '/compute/v2/p1/servers/1', headers: { 'x-api-key': MON.key } });
      expect(res.status).toBe(200);
    });
  });

  describe('envoy', () => {
    it('names the client credential headers in x-envoy-auth-headers-to-remove, never one it sets', async () => {
      const compute = await ask('envoy', { uri: '/compute/v2/p1/servers/1', headers: { authorization: `Bearer ${MON.key}` } });
      expect(list(compute.headers['x-envoy-auth-headers-to-remove'])).toEqual(['x-api-key', ...ALWAYS_REMOVED].sort()); // Authorization is overwritten with the token
      const identity = await ask('envoy', { uri: '/identity/v3/users', headers: { authorization: `Bearer ${ALICE.key}` } });
      expect(list(identity.headers['x-envoy-auth-headers-to-remove'])).toEqual(['authorization', 'x-api-key', ...ALWAYS_REMOVED].sort());
    });

    it('also names every spoofed X-Keygate-* spelling it does not overwrite', async () => {
      const res = await send(kg.url('check'), {
        path: '/compute/v2/p1/servers/1',
        headers: [
          'Host',
          'api.test',
          'X-API-Key',
          MON.key,
          'X-Keygate-User',
          'mallory',
          'X_Keygate_User',
          'mallory',
          'x-keygate-admin',
          'true',
          'X-Keygate-Key_Id',
          'x',
        ],
      });
      expect(res.status).toBe(200);
      expect(res.headers['x-keygate-user']).toBe('joe');
      expect(list(res.headers['x-envoy-auth-headers-to-remove'])).toEqual(
        ['x-api-key', 'x-keygate-admin', 'x-keygate-key_id', 'x_keygate_user', ...ALWAYS_REMOVED].sort(),
      );
    });

    it('accepts any method on any path: the path is the original one', async () => {
      const patch = await ask('envoy', { method: 'PATCH', uri: '/compute/v2/p1/servers/1', headers: { 'x-api-key': DEPLOY.key } });
      expect(patch.status).toBe(200);
      const options = await ask('envoy', { method: 'OPTIONS', uri: '/compute/v2/p1/servers/1', headers: { 'x-api-key': MON.key } });
      expect(options.status).toBe(403);
    });

    it('treats a path_prefix as part of the path (so Envoy must not set one)', async () => {
      const res = await ask('envoy', { uri: '/authz/compute/v2/p1/servers/1', headers: { 'x-api-key': MON.key } });
      expect(res.status).toBe(404);
    });
  });

  describe('nginx', () => {
    const nginxHeaders = (extra: Record<string, string>): Record<string, string> => ({
      'x-original-uri': '/compute/v2/p1/servers/1',
      'x-original-method': 'GET',
      'x-api-key': MON.key,
      ...extra,
    });

    it("uses the check request's own method and path for nothing", async () => {
      const res = await send(kg.url('check'), { method: 'POST', path: '/anything/at/all', headers: nginxHeaders({}) });
      expect(res.status).toBe(200);
    });

    it('takes the host from X-Forwarded-Host, else from Host', async () => {
      const xfh = await send(kg.url('check'), { headers: nginxHeaders({ host: 'api.test', 'x-forwarded-host': 'hosted.example.com' }) });
      expect(xfh.status).toBe(403);
      const host = await send(kg.url('check'), { headers: nginxHeaders({ host: 'hosted.example.com' }) });
      expect(host.status).toBe(403);
      const other = await send(kg.url('check'), { headers: nginxHeaders({ host: 'api.test' }) });
      expect(other.status).toBe(200);
    });

    it.each([
      ['X-Original-Method is missing', ['X-Original-URI', '/compute/v2/p1/servers/1']],
      ['X-Original-Method is not a method', ['X-Original-URI', '/compute/v2/p1/servers/1', 'X-Original-Method', 'GET /admin']],
      [
        'X-Original-URI is repeated',
        ['X-Original-URI', '/compute/v2/p1/servers/1', 'X-Original-URI', '/identity/v3', 'X-Original-Method', 'GET'],
      ],
      [
        'X-Forwarded-Host lists two hosts',
        ['X-Original-URI', '/compute/v2/p1/servers/1', 'X-Original-Method', 'GET', 'X-Forwarded-Host', 'a.test, hosted.example.com'],
      ],
      ['X-Original-URI is not origin-form', ['X-Original-URI', 'http://evil/compute/v2/p1/servers/1', 'X-Original-Method', 'GET']],
    ])('refuses (400 bad_target) when %s', async (_what, headers) => {
      const res = await send(kg.url('check'), { headers: [...headers, 'X-API-Key', MON.key] });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).reason).toBe('bad_target');
    });
  });

  describe('traefik', () => {
    it("refuses a request that carries both dialects' headers (a smuggled X-Original-URI)", async () => {
      const res = await send(kg.url('check'), {
        headers: {
          'x-forwarded-uri': '/compute/v2/p1/servers',
          'x-forwarded-method': 'POST',
          'x-original-uri': '/compute/v2/p1/servers/1',
          'x-original-method': 'GET',
          'x-api-key': MON.key,
        },
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).reason).toBe('bad_target');
    });

    it('does not fall back to Host when X-Forwarded-Host is absent', async () => {
      const res = await send(kg.url('check'), {
        headers: {
          host: 'hosted.example.com',
          'x-forwarded-uri': '/compute/v2/p1/servers/1',
          'x-forwarded-method': 'GET',
          'x-api-key': MON.key,
        },
      });
      expect(res.status).toBe(200); // routed by path: compute
    });

    it('refuses a missing X-Forwarded-Method', async () => {
      const res = await send(kg.url('check'), { headers: { 'x-forwarded-uri': '/compute/v2/p1/servers/1', 'x-api-key': MON.key } });
      expect(res.status).toBe(400);
    });
  });
});

/** Headers keygate owns that Envoy's allowed_headers may keep from it: listed on every answer. */
const ALWAYS_REMOVED = [
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
  'x-forwarded-host',
];

function list(value: string | string[] | undefined): string[] {
  return String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}
