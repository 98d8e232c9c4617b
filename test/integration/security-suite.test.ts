import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKey, generateSecret } from '../../src/auth/keyFormat.js';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { send, startFront, startGrpcFront, type Front, type HttpAnswer, type SendOptions } from '../helpers/fronts.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';
import { answerH2c, executed, type H2cRecorder } from '../helpers/overrideUpstream.js';
import { rawRequest, requestHead } from '../helpers/raw.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { startUpstream, type SeenRequest, type TestUpstream } from '../helpers/upstream.js';

/**
 * The one security suite (STYLE habit 10), run against every way a request can reach
 * an upstream through keygate: the reverse proxy, and the decision API behind Envoy,
 * nginx and Traefik (models configured from deploy/, see test/helpers/fronts.ts; the
 * real nginx runs in nginx-auth-request.test.ts). Each row says what the client sends,
 * what it must get back, and what the upstream must — and must not — receive.
 */

const MON = DEMO_KEYS.monitoring; // joe, restricted: compute read /v2/*/servers/**
const ALICE = DEMO_KEYS.aliceAdmin; // alice, inherit; identity's token header is X-Service-Token
const SECRET_OF = (key: string): string => key.split('_')[2];
const basic = (key: string): string => `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}`;

type EntryPointName = 'proxy' | 'check-envoy' | 'check-nginx' | 'check-traefik' | 'grpc-envoy';
const ENTRY_POINTS: readonly EntryPointName[] = ['proxy', 'check-envoy', 'check-nginx', 'check-traefik', 'grpc-envoy'];

interface Row {
  readonly what: string;
  readonly request: SendOptions & { path: string };
  /** Bytes written right after the request head, on the same connection (the row is then sent raw). */
  readonly smuggle?: string;
  readonly status: number;
  /** The client-visible reason, where the entry point passes keygate's body on (nginx does not). */
  readonly reason?: string;
  /** For allowed rows: what the upstream must see. */
  readonly upstream?: (seen: SeenRequest) => void;
  /** Where an entry point answers differently by design (e.g. its front drops the header first). */
  readonly statusFor?: Partial<Record<EntryPointName, number>>;
  /** Entry points where the row cannot hold, and why (documented in docs/deploy.md). */
  readonly notFor?: { readonly entryPoints: readonly EntryPointName[]; readonly why: string };
}

const noLeak =
  (key: string) =>
  (seen: SeenRequest): void => {
    const all = JSON.stringify(seen.rawHeaders) + seen.url;
    expect(all).not.toContain(key);
    expect(all).not.toContain(SECRET_OF(key));
    expect(seen.headers['x-api-key']).toBeUndefined();
  };

const asJoe = (seen: SeenRequest): void => {
  expect(seen.headers).toMatchObject({ 'x-keygate-user': 'joe', 'x-keygate-key-id': MON.id, 'x-keygate-key-name': 'monitoring' });
  expect(seen.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
};

const ALLOWED = '/compute/v2/p1/servers/42';
/** A user and key named outside ASCII: sent percent-encoded (UTF-8), the same on every entry point. */
const LI = { user: '李雷', name: 'tägliche Prüfung 50%', key: newKey() };
const MON_AUTH = `Bearer ${MON.key}`;
/** The HTTP/2 connection preface and an empty SETTINGS frame: what an h2c smuggler sends after the 101. */
const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00';
const DEPLOY = DEMO_KEYS.deploy; // joe, inherit, deny compute DELETE /**: may POST, never DELETE
const DEPLOY_AUTH = `Bearer ${DEPLOY.key}`;
/** The decision API's dialects and the gRPC Check: keygate decides, a front proxy forwards. */
const CHECK_ENTRY_POINTS = ['check-envoy', 'check-nginx', 'check-traefik', 'grpc-envoy'] as const;
const NO_BODY_ON_CHECK = {
  entryPoints: CHECK_ENTRY_POINTS,
  why: 'the decision API never sees a body; docs/deploy.md: turn off _method in bodies upstream',
};
/** Fronts that drop `_` header spellings before anything (nginx's underscores_in_headers off, Envoy's DROP_HEADER). */
const UNDERSCORES_DROPPED = { 'check-envoy': 200, 'check-nginx': 200, 'grpc-envoy': 200 } as const;
const form = (body: string): SendOptions => ({
  method: 'POST',
  headers: { authorization: DEPLOY_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
  body,
});
const FRONT_OWNS_UPGRADES = {
  entryPoints: CHECK_ENTRY_POINTS,
  why: 'the front proxy decides which upgrades it forwards',
};

/** joe, inherit, with deny rules for the path-reading rows (issues 21 and 23). */
const GUARDED = newKey();
const GUARDED_ENTRY = keyEntry(GUARDED, 'joe', 'guarded', [
  'scope: inherit',
  'deny:',
  '  - { service: compute, path: "/v2/*/admin/**" }',
  '  - { service: compute, method: DELETE, path: "/v2/*/servers/*" }',
  '  - { service: compute, method: GET, path: "/v2/*/secrets/**" }',
]);
const asGuarded = { 'x-api-key': GUARDED.key };

const ROWS: readonly Row[] = [
  // no key, wrong key
  { what: 'no key', request: { path: ALLOWED }, status: 401, reason: 'missing_credentials' },
  {
    what: 'a wrong secret for a real key id',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${formatKey(MON.id, generateSecret())}` } },
    status: 401,
    reason: 'invalid_key',
  },
  {
    what: 'an unknown key id',
    request: { path: ALLOWED, headers: { 'x-api-key': formatKey('AAAAAAAAAAAA', generateSecret()) } },
    status: 401,
    reason: 'invalid_key',
  },
  {
    what: 'a mangled key (bad checksum)',
    request: { path: ALLOWED, headers: { 'x-api-key': `${MON.key.slice(0, -1)}x` } },
    status: 401,
    reason: 'malformed_credentials',
  },
  {
    what: 'two different keys at once',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}`, 'x-api-key': DEMO_KEYS.deploy.key } },
    status: 401,
    reason: 'malformed_credentials',
  },
  // key on the wrong route
  {
    what: 'the key on another service',
    request: { path: '/identity/v3/users', headers: { 'x-api-key': MON.key } },
    status: 403,
    reason: 'key_scope_denied',
  },
  {
    what: 'the key with a method outside its scope',
    request: { method: 'DELETE', path: ALLOWED, headers: { 'x-api-key': MON.key } },
    status: 403,
    reason: 'key_scope_denied',
  },
  {
    what: 'the key on a path no service routes',
    request: { path: '/computers/v2/p1/servers/42', headers: { 'x-api-key': MON.key } },
    status: 404,
    reason: 'no_route',
  },
  {
    what: 'a dot segment climbing out of the allowed path',
    request: { path: '/compute/v2/p1/servers/%2e%2e/%2e%2e/admin', headers: { 'x-api-key': MON.key } },
    status: 400,
    reason: 'bad_target',
  },
  // spoofed headers
  {
    what: 'spoofed identity headers (both spellings)',
    request: {
      path: ALLOWED,
      headers: [
        'Authorization',
        `Bearer ${MON.key}`,
        'X-Keygate-User',
        'mallory',
        'X-Keygate-Key-Id',
        'mallory',
        'X_Keygate_User',
        'mallory',
        'X-Keygate-Key_Name',
        'mallory',
      ],
    },
    status: 200,
    upstream: (seen) => {
      asJoe(seen);
      expect(JSON.stringify(seen.rawHeaders)).not.toContain('mallory');
    },
  },
  {
    what: 'a spoofed X-Keygate-* header keygate does not set',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}`, 'x-keygate-admin': 'true' } },
    status: 200,
    upstream: (seen) => expect(seen.headers['x-keygate-admin']).toBeUndefined(),
    notFor: { entryPoints: ['check-nginx'], why: 'nginx cannot drop headers by pattern; upstreams trust only the three identity headers' },
  },
  {
    what: 'a spoofed service token',
    request: { path: '/identity/v3/users', headers: { 'x-api-key': ALICE.key, 'x-service-token': 'forged' } },
    status: 200,
    upstream: (seen) => expect(JSON.stringify(seen.rawHeaders)).not.toContain('forged'),
  },
  // the credential never leaks
  {
    what: 'a key in Authorization: Bearer',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}` } },
    status: 200,
    upstream: (s) => (asJoe(s), noLeak(MON.key)(s)),
  },
  {
    what: 'a key in X-API-Key',
    request: { path: ALLOWED, headers: { 'x-api-key': MON.key } },
    status: 200,
    upstream: (s) => (asJoe(s), noLeak(MON.key)(s)),
  },
  {
    what: 'a key as the Basic password',
    request: { path: ALLOWED, headers: { authorization: basic(MON.key) } },
    status: 200,
    upstream: (s) => (asJoe(s), noLeak(MON.key)(s)),
  },
  {
    what: 'the same key in both headers',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}`, 'x-api-key': MON.key } },
    status: 200,
    upstream: (s) => (asJoe(s), noLeak(MON.key)(s)),
  },
  {
    what: 'a key in Authorization for a service whose token goes elsewhere',
    request: { path: '/identity/v3/users', headers: { authorization: `Bearer ${ALICE.key}` } },
    status: 200,
    upstream: (seen) => {
      noLeak(ALICE.key)(seen);
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-keygate-key-name']).toBe('alice-admin');
    },
  },
  // deny rules and guardrails hold however the upstream reads the path (issues 21 and 23; README "Path readings")
  {
    what: 'deny /v2/*/admin/** vs a capitalised segment',
    request: { path: '/compute/v2/p1/Admin/x', headers: asGuarded },
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'deny DELETE /v2/*/servers/* vs a trailing slash',
    request: { method: 'DELETE', path: '/compute/v2/p1/servers/42/', headers: asGuarded },
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'deny DELETE /v2/*/servers/* vs "//" (refused: the service does not allow empty segments)',
    request: { method: 'DELETE', path: '/compute/v2/p1/servers//42', headers: asGuarded },
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'deny GET /v2/*/secrets/** vs HEAD',
    request: { method: 'HEAD', path: '/compute/v2/p1/secrets/x', headers: asGuarded },
    status: 403,
  },
  {
    what: 'deny /v2/*/admin/** vs a .format suffix',
    request: { path: '/compute/v2/p1/admin.json', headers: asGuarded },
    status: 403,
    reason: 'key_deny_rule',
  },
  {
    what: 'the same key where no reading is denied (control)',
    request: { method: 'PUT', path: '/compute/v2/p1/servers/42', headers: asGuarded },
    status: 200,
  },
  {
    what: 'a guardrail vs a capitalised segment',
    request: { method: 'POST', path: '/identity/v3/users/u1/Credentials/c1', headers: { 'x-api-key': ALICE.key } },
    status: 403,
    reason: 'guardrail',
  },
  {
    what: 'a guardrail vs a .format suffix',
    request: { method: 'POST', path: '/identity/v3/users/u1/credentials.json', headers: { 'x-api-key': ALICE.key } },
    status: 403,
    reason: 'guardrail',
  },
  {
    what: 'a route prefix in another case',
    request: { path: '/Compute/v2/p1/servers/42', headers: { 'x-api-key': MON.key } },
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'stripPrefix would forward "//host/…"',
    request: { path: '/compute//evil.example/v2/p1/servers/42', headers: { 'x-api-key': MON.key } },
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'a malformed Host',
    request: { path: ALLOWED, headers: { 'x-api-key': MON.key, host: 'keygate..example' } },
    status: 400,
    reason: 'bad_target',
  },
  {
    what: 'a user and key named outside ASCII: percent-encoded UTF-8 identity headers',
    request: { path: ALLOWED, headers: { authorization: `Bearer ${LI.key.key}` } },
    status: 200,
    upstream: (seen) => {
      expect(seen.headers['x-keygate-user']).toBe('%E6%9D%8E%E9%9B%B7');
      expect(seen.headers['x-keygate-key-name']).toBe('t%C3%A4gliche Pr%C3%BCfung 50%25');
      expect(decodeURIComponent(String(seen.headers['x-keygate-user']))).toBe(LI.user);
      expect(decodeURIComponent(String(seen.headers['x-keygate-key-name']))).toBe(LI.name);
    },
  },
  // requests that change their meaning after the check: upgrades
  {
    what: 'an h2c upgrade with the HTTP/2 preface smuggled after it',
    request: {
      path: ALLOWED,
      headers: [
        ['Authorization', MON_AUTH],
        ['Upgrade', 'h2c'],
        ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
        ['Connection', 'Upgrade, HTTP2-Settings'],
      ].flat(),
    },
    smuggle: H2_PREFACE,
    status: 400,
    reason: 'upgrade_not_allowed',
    notFor: FRONT_OWNS_UPGRADES,
  },
  {
    what: 'h2c hinted only by HTTP2-Settings',
    request: { path: ALLOWED, headers: { authorization: MON_AUTH, 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } },
    status: 400,
    reason: 'upgrade_not_allowed',
    notFor: FRONT_OWNS_UPGRADES,
  },
  {
    what: 'h2c hinted only by Connection: HTTP2-Settings',
    request: { path: ALLOWED, headers: { authorization: MON_AUTH, connection: 'keep-alive, HTTP2-Settings' } },
    status: 400,
    reason: 'upgrade_not_allowed',
    notFor: FRONT_OWNS_UPGRADES,
  },
  {
    what: 'an upgrade to a protocol the service does not allow',
    request: {
      path: ALLOWED,
      headers: [
        ['Authorization', MON_AUTH],
        ['Upgrade', 'IRC/6.9'],
        ['Connection', 'Upgrade'],
      ].flat(),
    },
    smuggle: 'PRIVMSG #ops :hello\r\n',
    status: 400,
    reason: 'upgrade_not_allowed',
    notFor: FRONT_OWNS_UPGRADES,
  },
  {
    what: 'an h2c upgrade without a key is refused before the key is looked at',
    request: {
      path: ALLOWED,
      headers: [
        ['Upgrade', 'h2c'],
        ['Connection', 'Upgrade'],
      ].flat(),
    },
    status: 400,
    reason: 'upgrade_not_allowed',
    notFor: FRONT_OWNS_UPGRADES,
  },
  // method overrides (default methodOverride: reject)
  ...[
    ['X-HTTP-Method-Override', 'DELETE'],
    ['X-HTTP-Method', 'DELETE'],
    ['X-Method-Override', 'DELETE'],
    ['x-http-method-override', 'delete'],
  ].map(([name, value]): Row => ({
    what: `POST with ${name}: ${value} by a key that may POST but not DELETE`,
    request: { method: 'POST', path: ALLOWED, headers: { authorization: DEPLOY_AUTH, [name]: value } },
    status: 400,
    reason: 'method_override',
  })),
  {
    what: 'POST with X_HTTP_METHOD_OVERRIDE: DELETE (the CGI spelling)',
    request: { method: 'POST', path: ALLOWED, headers: ['Authorization', DEPLOY_AUTH, 'X_HTTP_METHOD_OVERRIDE', 'DELETE'] },
    status: 400,
    reason: 'method_override',
    statusFor: UNDERSCORES_DROPPED,
  },
  {
    what: 'POST with ?_method=DELETE',
    request: { method: 'POST', path: `${ALLOWED}?a=1&_method=DELETE`, headers: { authorization: DEPLOY_AUTH } },
    status: 400,
    reason: 'method_override',
  },
  {
    what: 'POST with ?%5Fmethod=delete (encoded key, lower-case value)',
    request: { method: 'POST', path: `${ALLOWED}?%5Fmethod=delete`, headers: { authorization: DEPLOY_AUTH } },
    status: 400,
    reason: 'method_override',
  },
  {
    what: 'POST with ?.method=DELETE (PHP reads it as _method)',
    request: { method: 'POST', path: `${ALLOWED}?.method=DELETE`, headers: { authorization: DEPLOY_AUTH } },
    status: 400,
    reason: 'method_override',
  },
  {
    what: 'an override that is not a method',
    request: { method: 'POST', path: ALLOWED, headers: { authorization: DEPLOY_AUTH, 'x-http-method-override': 'DELETE /admin' } },
    status: 400,
    reason: 'method_override',
  },
  {
    what: "an override naming the request's own method changes nothing",
    request: { method: 'POST', path: ALLOWED, headers: { authorization: DEPLOY_AUTH, 'x-http-method-override': 'post' } },
    status: 200,
  },
  {
    what: '_method=DELETE first in a urlencoded POST body',
    request: { path: ALLOWED, ...form('_method=DELETE&name=x') },
    status: 403,
    reason: 'key_deny_rule',
    notFor: NO_BODY_ON_CHECK,
  },
  {
    what: '_method=delete with an encoded key in a urlencoded body',
    request: { path: ALLOWED, ...form('name=x&%5Fmethod=delete') },
    status: 403,
    reason: 'key_deny_rule',
    notFor: NO_BODY_ON_CHECK,
  },
  {
    what: '_method=DELETE in a multipart POST body',
    request: {
      method: 'POST',
      path: ALLOWED,
      headers: { authorization: DEPLOY_AUTH, 'content-type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--XyZ--\r\n',
    },
    status: 403,
    reason: 'key_deny_rule',
    notFor: NO_BODY_ON_CHECK,
  },
  {
    what: 'a urlencoded POST body without _method is forwarded whole',
    request: { path: ALLOWED, ...form(`name=x&${'a'.repeat(9000)}`) },
    status: 200,
    upstream: (seen) => expect(seen.bodyBytes).toBe(9007),
  },
  // URL overrides and client-address headers: keygate's, never the client's
  ...['X-Original-URL', 'X-Rewrite-URL', 'X-Original-URI', 'X-Forwarded-Prefix'].map((name): Row => ({
    what: `${name} naming another path on an allowed request`,
    request: { path: ALLOWED, headers: { authorization: MON_AUTH, [name]: '/compute/v2/p1/admin' } },
    status: 200,
    upstream: (seen) => expect(seen.headers[name.toLowerCase()]).toBeUndefined(),
  })),
  {
    what: "a client's X-Real-IP and Forwarded",
    request: { path: ALLOWED, headers: { authorization: MON_AUTH, 'x-real-ip': '6.6.6.6', forwarded: 'for=1.2.3.4;host=evil.example' } },
    status: 200,
    upstream: (seen) => {
      expect(JSON.stringify(seen.rawHeaders)).not.toMatch(/6\.6\.6\.6|1\.2\.3\.4|evil\.example/);
      expect([undefined, '127.0.0.1']).toContain(seen.headers['x-real-ip']);
    },
  },
  {
    what: 'X-Forwarded-Host and -Proto from a client that is not a trusted proxy',
    request: { path: ALLOWED, headers: { authorization: MON_AUTH, 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } },
    status: 200,
    upstream: (seen) => {
      expect(String(seen.headers['x-forwarded-host'] ?? '')).not.toContain('evil.example');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
    },
  },
  {
    what: 'two Host headers',
    request: { path: ALLOWED, headers: ['Host', 'a.example', 'Host', 'b.example', 'Authorization', MON_AUTH] },
    status: 400,
    reason: 'bad_target',
    notFor: { entryPoints: CHECK_ENTRY_POINTS, why: 'the front proxy parses Host (nginx and Envoy answer 400 themselves)' },
  },
  // TRACE echoes the request back: never with the service token
  {
    what: 'TRACE on an allowed path',
    request: { method: 'TRACE', path: ALLOWED, headers: { authorization: MON_AUTH } },
    status: 405,
    reason: 'method_not_allowed',
  },
  { what: 'TRACE without a key', request: { method: 'TRACE', path: ALLOWED }, status: 405, reason: 'method_not_allowed' },
];

describe.each(ENTRY_POINTS)('security suite: %s', (entryPoint) => {
  let upstream: TestUpstream;
  let h2c: H2cRecorder;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  let front: Front | undefined;
  let entry: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    h2c = answerH2c(upstream.server);
    // Each decision dialect runs pinned, as deploy/ and the docs configure it.
    const dialect = entryPoint.startsWith('check-') ? entryPoint.slice('check-'.length) : 'auto';
    cfg = tempConfig(upstream.origin, (main) => main.replace('dialect: auto', `dialect: ${dialect}`));
    cfg.write('policy.yaml', cfg.read('policy.yaml').replace('users:\n', `users:\n  ${LI.user}:\n    roles: [reader]\n`));
    cfg.write('keys.yaml', `${cfg.read('keys.yaml').trimEnd()}\n${keyEntry(LI.key, LI.user, `"${LI.name}"`, ['scope: inherit'])}\n`);
    cfg.write('keys.yaml', `${cfg.read('keys.yaml').trimEnd()}\n${GUARDED_ENTRY}\n`);
    kg = await startKeygate(cfg.mainFile);
    if (entryPoint === 'proxy') {
      entry = kg.url('proxy');
    } else if (entryPoint === 'grpc-envoy') {
      front = await startGrpcFront(kg.grpcTarget(), upstream.origin);
      entry = front.url;
    } else {
      front = await startFront(
        entryPoint === 'check-envoy' ? 'envoy' : entryPoint === 'check-nginx' ? 'nginx' : 'traefik',
        kg.url('check'),
        upstream.origin,
      );
      entry = front.url;
    }
  });
  afterAll(async () => {
    await front?.close();
    await kg?.close();
    await upstream?.close();
    cfg?.cleanup();
  });

  for (const row of ROWS) {
    const excluded = row.notFor?.entryPoints.includes(entryPoint);
    const title = `${row.what} → ${row.statusFor?.[entryPoint] ?? row.status}${excluded ? ` (not for ${entryPoint}: ${row.notFor!.why})` : ''}`;
    it.skipIf(excluded)(title, async () => {
      const before = upstream.seen.length;
      const res = row.smuggle === undefined ? await send(entry, row.request) : await sendRaw(entry, row.request, row.smuggle);
      const status = row.statusFor?.[entryPoint] ?? row.status;
      expect(res.status).toBe(status);
      expect(h2c.switched).toBe(0);
      expect(h2c.bytes).toBe(0);
      expectNoKeyIn(res);
      if (status !== 200) {
        expect(upstream.seen.length).toBe(before); // the upstream never saw it
        if (row.status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="keygate"/);
        if (row.reason && res.body !== '' && String(res.headers['content-type']).startsWith('application/problem+json'))
          expect(JSON.parse(res.body).reason).toBe(row.reason);
        return;
      }
      expect(upstream.seen.length).toBe(before + 1);
      const seen = upstream.seen.at(-1)!;
      // What a framework honouring every override executes is exactly what arrived.
      expect(executed(seen)).toEqual({ method: seen.method, path: seen.url.split('?', 1)[0] });
      row.upstream?.(seen);
    });
  }

  it('never logs a key or a service token', () => {
    for (const secret of [MON.key, SECRET_OF(MON.key), ALICE.key, DEMO_TOKENS.compute, DEMO_TOKENS.identity]) {
      expect(kg.logText()).not.toContain(secret);
    }
  });
});

/** The request head exactly as listed, then `after` on the same connection. */
async function sendRaw(origin: string, request: SendOptions & { path: string }, after: string): Promise<HttpAnswer> {
  const url = new URL(origin);
  const list = Array.isArray(request.headers) ? request.headers : [];
  const pairs: [string, string][] = [['Host', url.host]];
  for (let i = 0; i < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
  const res = await rawRequest(Number(url.port), requestHead(request.method ?? 'GET', request.path, pairs) + after);
  return { status: res.status, headers: res.headers, body: res.body };
}

/** Nothing the client gets back carries a key (a token in a 200 answer is the front proxy's business). */
function expectNoKeyIn(res: HttpAnswer): void {
  const text = JSON.stringify(res.headers) + res.body;
  for (const key of [MON.key, ALICE.key, DEMO_KEYS.deploy.key]) expect(text).not.toContain(SECRET_OF(key));
}
