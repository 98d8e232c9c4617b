import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { send } from '../helpers/fronts.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { non2xx, requestLoop } from '../helpers/requestLoop.js';
import { startUpstream, type SeenRequest, type TestUpstream } from '../helpers/upstream.js';

/**
 * The signed identity assertion (README "Identity assertion"): an upstream that trusts
 * nothing on the network verifies every forwarded request's X-Keygate-Assertion with
 * jose against keygate's JWKS, and answers 401 when it does not verify, so a failed
 * verification is a non-2xx the request loop counts.
 */

const MON = DEMO_KEYS.monitoring;
const ALLOWED = '/compute/v2/p1/servers/42';
const HEADER = 'x-keygate-assertion';

let upstream: TestUpstream;
let cfg: TempConfig;
let kg: RunningKeygate;
let jwks: JWTVerifyGetKey;
const failures: string[] = [];

const tokenOf = (seen: SeenRequest): string => String(seen.headers[HEADER]);
const verify = (token: string, options: Parameters<typeof jwtVerify>[2] = {}) =>
  jwtVerify(token, jwks, { issuer: 'keygate', audience: 'compute', algorithms: ['EdDSA'], ...options });

/** The upstream: compute requests must carry a valid assertion; identity's never do. */
function verifying(req: IncomingMessage, res: ServerResponse, seen: SeenRequest): void {
  const token = seen.headers[HEADER];
  if (seen.headers['x-keygate-user'] === 'alice' || typeof token !== 'string') {
    res.writeHead(200).end();
    return;
  }
  verify(token).then(
    () => res.writeHead(200).end(),
    (e: { code?: string }) => {
      failures.push(e.code ?? 'unknown');
      res.writeHead(401).end();
    },
  );
}

beforeAll(async () => {
  upstream = await startUpstream(verifying);
  cfg = tempConfig(upstream.origin);
  kg = await startKeygate(cfg.mainFile);
  // A verifier that refetches the JWKS as soon as it meets an unknown kid (README: rotation).
  jwks = createRemoteJWKSet(new URL(`${kg.url('admin')}/.well-known/jwks.json`), { cooldownDuration: 0 });
});
afterAll(async () => {
  await kg?.close();
  await upstream?.close();
  cfg?.cleanup();
});

describe('identity assertion', () => {
  it('forwards a JWT that verifies against the JWKS, naming the key, its user, the service and the region', async () => {
    const res = await send(kg.url(), { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}` } });
    expect(res.status).toBe(200);
    const { payload, protectedHeader } = await verify(tokenOf(upstream.seen.at(-1)!));
    expect(payload).toMatchObject({
      iss: 'keygate',
      sub: 'joe',
      aud: 'compute',
      key_id: MON.id,
      key_name: 'monitoring',
      region: 'eu-west-1',
    });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
  });

  it('reuses the token for the same key while more than half its ttl remains (jti names the token)', async () => {
    await send(kg.url(), { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}` } });
    await send(kg.url(), { path: ALLOWED, headers: { 'x-api-key': MON.key } });
    const [a, b] = upstream.seen.slice(-2).map(tokenOf);
    expect(a).toBe(b);
    const deploy = await send(kg.url(), { path: ALLOWED, headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` } });
    expect(deploy.status).toBe(200);
    expect(tokenOf(upstream.seen.at(-1)!)).not.toBe(a);
  });

  it("replaces a client's own assertion header, in any spelling", async () => {
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
    const res = await send(kg.url(), {
      path: ALLOWED,
      headers: ['Authorization', `Bearer ${MON.key}`, 'X-Keygate-Assertion', forged, 'X_Keygate_Assertion', forged],
    });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(forged);
    expect((await verify(tokenOf(seen))).payload.sub).toBe('joe');
  });

  it('sends none to a service without `assertion`', async () => {
    const res = await send(kg.url(), { path: '/identity/v3/users', headers: { 'x-api-key': DEMO_KEYS.aliceAdmin.key } });
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)!.headers[HEADER]).toBeUndefined();
  });

  it('the decision API answers it too (for the front proxy to copy)', async () => {
    const res = await send(kg.url('check'), { path: ALLOWED, headers: { authorization: `Bearer ${MON.key}` } });
    expect(res.status).toBe(200);
    expect((await verify(String(res.headers[HEADER]))).payload.key_id).toBe(MON.id);
  });

  it('the upstream rejects an expired, a tampered and a wrong-audience token', async () => {
    const token = tokenOf(upstream.seen.findLast((s) => s.headers[HEADER] !== undefined)!);
    const later = new Date(Date.now() + 61_000);
    await expect(verify(token, { currentDate: later })).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    const [h, p, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'alice' })).toString('base64url')}.${sig}`;
    await expect(verify(tampered)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await expect(verify(token, { audience: 'identity' })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    expect(failures).toEqual([]);
  });

  it('rotating the signing key under traffic fails no verification; the old public key stays published', async () => {
    const before = await jwksKids();
    expect(before).toHaveLength(1);
    const load = requestLoop(kg, [DEMO_KEYS.deploy.key], 4, 4_000, 10_000); // monitoring has a 20/s limit
    await waitFor(() => load.total > 50 || undefined);
    const { privateKey } = generateKeyPairSync('ed25519');
    cfg.write('secrets/assertion-ed25519.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await kg.app.reload('api');
    const rotated = await jwksKids();
    expect(rotated).toHaveLength(2);
    expect(rotated).toContain(before[0]);
    const newKid = rotated.find((k) => k !== before[0]);
    const seenFrom = upstream.seen.length;
    await waitFor(
      () => upstream.seen.slice(seenFrom).some((s) => s.headers[HEADER] && decodeProtectedHeader(tokenOf(s)).kid === newKid) || undefined,
    );
    const total = load.total;
    await waitFor(() => load.total > total + 50 || undefined);
    await load.stop();
    expect(non2xx(load)).toEqual({});
    expect(failures).toEqual([]);
  });
});

async function jwksKids(): Promise<string[]> {
  const res = await send(kg.url('admin'), { path: '/.well-known/jwks.json' });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/jwk-set+json');
  return (JSON.parse(res.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}
