import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { describe, expect, it } from 'vitest';
import { AssertionKeyRing } from '../../../src/assertion/keyRing.js';
import { AssertionSigner } from '../../../src/assertion/signer.js';
import type { AssertionSettings } from '../../../src/config/snapshot.js';

const settings = (ttl = 60_000): AssertionSettings => ({
  header: 'x-keygate-assertion',
  issuer: 'keygate',
  audience: 'compute',
  ttl,
  algorithm: 'EdDSA',
  keyFile: '/k.pem',
  keyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});
const who = { user: 'joe', id: 'AAAAAAAAAAAA', name: 'ci' };

describe('assertion key ring', () => {
  it("names each key by its RFC 7638 thumbprint (jose's)", async () => {
    const ring = new AssertionKeyRing();
    ring.update([{ assertion: settings() }], 0);
    const [jwk] = ring.jwks(0).keys;
    expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk));
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
  });

  it('keeps a replaced key published for one ttl, then drops it', () => {
    const ring = new AssertionKeyRing();
    const [a, b] = [settings(), settings()];
    ring.update([{ assertion: a }], 1_000);
    ring.update([{ assertion: b }], 2_000);
    expect(ring.jwks(2_000).keys.map((k) => k.kid)).toEqual([ring.keyFor(b).kid, ring.keyFor(a).kid]);
    expect(ring.jwks(61_999).keys).toHaveLength(2);
    expect(ring.jwks(62_000).keys.map((k) => k.kid)).toEqual([ring.keyFor(b).kid]);
  });

  it('the signer reuses a token until half its ttl is gone, then signs a new one', async () => {
    const ring = new AssertionKeyRing();
    const s = settings();
    ring.update([{ assertion: s }], 0);
    const signer = new AssertionSigner(ring);
    const t0 = Date.now();
    const first = await signer.tokenFor(s, who, 'eu', t0);
    expect(signer.tokenFor(s, who, 'eu', t0 + 29_999)).toBe(first); // a string: no await on a hit
    const next = await signer.tokenFor(s, who, 'eu', t0 + 30_000);
    expect(next).not.toBe(first);
    const { payload } = await jwtVerify(next, createLocalJWKSet(ring.jwks(t0)), {
      audience: 'compute',
      currentDate: new Date(t0 + 30_000),
    });
    expect(payload).toMatchObject({ sub: 'joe', key_id: who.id, key_name: 'ci', region: 'eu' });
    expect(decodeProtectedHeader(next).kid).toBe(ring.keyFor(s).kid);
  });
});
