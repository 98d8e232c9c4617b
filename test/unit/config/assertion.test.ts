import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { edit, MAIN, writeFixture, type Fixture } from './fixtures.js';

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

const pem = (type: 'ed25519' | 'ec' | 'rsa'): string => {
  const options = type === 'ec' ? { namedCurve: 'P-256' } : type === 'rsa' ? { modulusLength: 2048 } : {};
  // @ts-expect-error: the overloads want a literal type; every branch here is a valid one
  const { privateKey } = generateKeyPairSync(type, options);
  return (privateKey as import('node:crypto').KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString();
};
const ED25519 = pem('ed25519');

/** compute with `assertion:` holding `fields` (indented under it). */
function load(fields: string, key: string | null = ED25519): ReturnType<typeof loadConfig> {
  const main = edit(MAIN, '    timeouts: { connect: 2s, response: 30s }\n', `    timeouts: { connect: 2s, response: 30s }\n    assertion:\n${fields}`);
  fixture = writeFixture({ 'keygate.yaml': main, 'signing.pem': key });
  return loadConfig(fixture.mainFile, { env: {} });
}

const errorsOf = (r: ReturnType<typeof loadConfig>): string[] => (r.ok ? [] : r.errors.map((e) => `${e.line}: ${e.message}`));

describe('service assertion', () => {
  it('defaults: X-Keygate-Assertion, iss keygate, aud = service, 60 s, EdDSA; the key file is watched', () => {
    const result = load('      signingKey: ./signing.pem\n');
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const a = result.snapshot.services[0].assertion!;
    expect(a).toMatchObject({ header: 'x-keygate-assertion', issuer: 'keygate', audience: 'compute', ttl: 60_000, algorithm: 'EdDSA' });
    expect(a.keyFile).toBe(fixture!.path('signing.pem'));
    expect(result.snapshot.watchedFiles).toContain(fixture!.path('signing.pem'));
  });

  it.each([
    ['ES256', pem('ec')],
    ['RS256', pem('rsa')],
  ])('accepts %s with a matching key', (algorithm, key) => {
    const result = load(`      signingKey: ./signing.pem\n      algorithm: ${algorithm}\n      ttl: 5m\n      issuer: https://keygate.example\n      audience: api://compute\n      header: X-Identity\n`, key);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.snapshot.services[0].assertion).toMatchObject({ algorithm, ttl: 300_000, issuer: 'https://keygate.example', audience: 'api://compute', header: 'x-identity' });
  });

  it.each([
    ['a missing key file', '      signingKey: ./nope.pem\n', ED25519, /cannot be read/],
    ['a file that is no key', '      signingKey: ./signing.pem\n', 'not a key\n', /is not a PEM private key/],
    ['an RSA key for EdDSA', '      signingKey: ./signing.pem\n', pem('rsa'), /EdDSA needs an Ed25519 key/],
    ['an unknown algorithm', '      signingKey: ./signing.pem\n      algorithm: HS256\n', ED25519, /assertion.algorithm must be one of/],
    ['a header keygate already sets', '      signingKey: ./signing.pem\n      header: Authorization\n', ED25519, /already a header/],
    ['a ttl too short', '      signingKey: ./signing.pem\n      ttl: 1s\n', ED25519, /whole seconds between/],
    ['no signing key', '      ttl: 60s\n', ED25519, /signingKey/],
  ])('refuses %s, at its line', (_what, fields, key, message) => {
    const errors = errorsOf(load(fields, key));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).toMatch(/^(9|10|11): /);
    expect(errors[0]).not.toContain('PRIVATE KEY');
  });
});
