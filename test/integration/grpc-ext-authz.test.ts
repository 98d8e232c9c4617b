import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { authzClient, type AuthzClient, type CheckResponse } from '../helpers/grpcClient.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * listen.grpc: Envoy's envoy.service.auth.v3.Authorization/Check and grpc.health.v1, driven
 * by a grpc-js client with the repository's protos. The shared security suite runs through
 * it too (entry point grpc-envoy); this file covers what only gRPC has: the message shapes,
 * status codes, limits, malformed input and health.
 */

const MON = DEMO_KEYS.monitoring;
const ALICE = DEMO_KEYS.aliceAdmin; // sourceIPs 127.0.0.0/8 and ::1
const ALLOWED = '/compute/v2/p1/servers/42?verbose=1';

let upstream: TestUpstream;
let cfg: TempConfig;
let kg: RunningKeygate;
let client: AuthzClient;

const headersOf = (list: { header?: { key: string; value: string } }[] | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((o) => [o.header!.key, o.header!.value]));
const codeOf = (p: Promise<unknown>): Promise<number | undefined> =>
  p.then(
    () => undefined,
    (e: ServiceError) => e.code,
  );
const accessLines = (): number => kg.logs().filter((l) => 'decision' in l).length;

beforeAll(async () => {
  upstream = await startUpstream();
  cfg = tempConfig(upstream.origin, (main) => `${main}shutdown: { delay: 500ms }\n`);
  kg = await startKeygate(cfg.mainFile);
  client = authzClient(kg.grpcTarget());
});
afterAll(async () => {
  client?.close();
  await kg?.close();
  await upstream?.close();
  cfg?.cleanup();
});

describe('gRPC ext_authz Check', () => {
  it('allows: headers to set (replacing), the credential to remove, RateLimit fields for the client', async () => {
    const res = await client.check(
      { method: 'GET', path: ALLOWED, host: 'api.example', headers: { 'x-api-key': MON.key, 'x-keygate-user': 'mallory' } },
      '127.0.0.1',
    );
    expect(res.status?.code).toBe(grpcStatus.OK);
    const set = headersOf(res.ok_response?.headers);
    expect(set).toMatchObject({
      authorization: `Bearer ${DEMO_TOKENS.compute}`,
      'x-keygate-user': 'joe',
      'x-keygate-key-id': MON.id,
      'x-keygate-key-name': 'monitoring',
    });
    expect(set['x-keygate-assertion']).toMatch(/^eyJ/);
    for (const o of res.ok_response!.headers!) expect(o).toMatchObject({ append: { value: false }, append_action: 2 });
    expect(res.ok_response?.headers_to_remove).toContain('x-api-key');
    expect(res.ok_response?.headers_to_remove).not.toContain('x-keygate-user'); // set instead, which replaces
    expect(headersOf(res.ok_response?.response_headers_to_add)).toHaveProperty('ratelimit'); // monitoring's 20/s
    expect(JSON.stringify(res)).not.toContain(MON.key.split('_')[2]);
  });

  it('denies 401 with UNAUTHENTICATED, the problem+json body and WWW-Authenticate', async () => {
    const res = await client.check({ method: 'GET', path: ALLOWED, headers: {} });
    expect(res.status?.code).toBe(grpcStatus.UNAUTHENTICATED);
    expect(res.ok_response).toBeUndefined();
    expect(res.denied_response?.status?.code).toBe(401);
    const headers = headersOf(res.denied_response?.headers);
    expect(headers['content-type']).toBe('application/problem+json');
    expect(headers['www-authenticate']).toMatch(/^Bearer realm="keygate"/);
    expect(headers).not.toHaveProperty('content-length');
    expect(JSON.parse(res.denied_response!.body!)).toMatchObject({ status: 401, reason: 'missing_credentials' });
  });

  it('denies 403 with PERMISSION_DENIED; the same uniform 401 body for a wrong key', async () => {
    const forbidden = await client.check({ method: 'DELETE', path: ALLOWED, headers: { authorization: `Bearer ${MON.key}` } });
    expect(forbidden.status?.code).toBe(grpcStatus.PERMISSION_DENIED);
    expect(JSON.parse(forbidden.denied_response!.body!)).toMatchObject({ status: 403, reason: 'key_scope_denied' });
    const unknown = await client.check({
      method: 'GET',
      path: ALLOWED,
      headers: { 'x-api-key': `${MON.key.slice(0, 16)}${'A'.repeat(MON.key.length - 16)}` },
    });
    expect(unknown.status?.code).toBe(grpcStatus.UNAUTHENTICATED);
    expect(JSON.parse(unknown.denied_response!.body!).reason).toMatch(/^(invalid_key|malformed_credentials)$/);
  });

  it("decides on attributes.source: a key's sourceIPs see the client, not Envoy", async () => {
    const http = { method: 'GET', path: '/identity/v3/users', headers: { 'x-api-key': ALICE.key } };
    expect((await client.check(http, '127.0.0.9')).status?.code).toBe(grpcStatus.OK);
    const outside = await client.check(http, '10.1.2.3');
    expect(outside.status?.code).toBe(grpcStatus.PERMISSION_DENIED);
    expect(JSON.parse(outside.denied_response!.body!).reason).toBe('source_ip_not_allowed');
  });

  it("reads header_map (Envoy's encode_raw_headers) the same way, repeats kept apart", async () => {
    const one = await client.check({
      method: 'GET',
      path: ALLOWED,
      header_map: { headers: [{ key: 'x-api-key', raw_value: Buffer.from(MON.key) }] },
    });
    expect(one.status?.code).toBe(grpcStatus.OK);
    const two = await client.check({
      method: 'GET',
      path: ALLOWED,
      header_map: {
        headers: [
          { key: 'x-api-key', value: MON.key },
          { key: 'x-api-key', value: DEMO_KEYS.deploy.key },
        ],
      },
    });
    expect(JSON.parse(two.denied_response!.body!).reason).toBe('malformed_credentials');
  });

  it('answers 431 for headers beyond limits.headers, like the HTTP ports', async () => {
    const res = await client.check({ method: 'GET', path: ALLOWED, headers: { 'x-api-key': MON.key, 'x-pad': 'a'.repeat(17 * 1024) } });
    expect(res.denied_response?.status?.code).toBe(431);
  });

  it('a malformed request is INVALID_ARGUMENT and changes nothing (no access line, no decision)', async () => {
    const before = accessLines();
    expect(before).toBeGreaterThan(0); // the decisions above were logged
    expect(await codeOf(client.raw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(client.check({ method: 'GET', path: '' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(client.check({ method: 'GET /x', path: '/compute/x' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(client.check({ method: 'GET', path: ALLOWED, headers: { 'x-a': 'b\r\nx-keygate-user: mallory' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(await codeOf(client.raw(Buffer.alloc(0)))).toBe(grpcStatus.INVALID_ARGUMENT); // no attributes at all
    expect(accessLines()).toBe(before);
  });

  it('refuses a message over the size limit (RESOURCE_EXHAUSTED); an expired deadline is DEADLINE_EXCEEDED', async () => {
    const huge: Promise<CheckResponse> = client.check({ method: 'GET', path: ALLOWED, headers: { 'x-pad': 'a'.repeat(2 * 1024 * 1024) } });
    expect(await codeOf(huge)).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    expect(await codeOf(client.check({ method: 'GET', path: ALLOWED, headers: { 'x-api-key': MON.key } }, undefined, -1))).toBe(
      grpcStatus.DEADLINE_EXCEEDED,
    );
  });
});

describe('grpc.health.v1', () => {
  it('SERVING for the server and the Authorization service; NOT_FOUND for another', async () => {
    expect((await client.health('')).status).toBe(1);
    expect((await client.health('envoy.service.auth.v3.Authorization')).status).toBe(1);
    expect(await codeOf(client.health('nope.Service'))).toBe(grpcStatus.NOT_FOUND);
  });

  it('NOT_SERVING as soon as keygate drains (shutdown.delay keeps the port open meanwhile)', async () => {
    const stopping = kg.close();
    expect((await client.health('')).status).toBe(2);
    await stopping;
  });
});
