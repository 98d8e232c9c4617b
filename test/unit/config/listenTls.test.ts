import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { KEYS, MAIN, POLICY, writeFixture, type Fixture } from './fixtures.js';

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function load(listen: string): ReturnType<typeof loadConfig> {
  fixture = writeFixture({ 'keygate.yaml': `${MAIN}listen:\n${listen}`, 'policy.yaml': POLICY, 'keys.yaml': KEYS, 'compute.token': 't' });
  return loadConfig(fixture.mainFile, { env: {} });
}

const errors = (result: ReturnType<typeof loadConfig>): string[] => (result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.message}`));

describe('listener object form with tls', () => {
  it('takes { address, tls } on every listener, paths resolved against keygate.yaml, TLSv1.2 by default', () => {
    const result = load(
      [
        '  proxy: { address: 0.0.0.0:8443, tls: { cert: ./tls/tls.crt, key: ./tls/tls.key } }',
        '  admin: { address: 127.0.0.1:9443, tls: { cert: /etc/a.crt, key: /etc/a.key, minVersion: TLSv1.3 } }',
        '  check: { address: 127.0.0.1:9191, dialect: envoy, tls: { cert: c.pem, key: k.pem } }',
        '',
      ].join('\n'),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const { proxy, admin, check, checkDialect } = result.snapshot.listen;
    expect(proxy).toMatchObject({ host: '0.0.0.0', port: 8443, tls: { cert: `${fixture!.dir}/tls/tls.crt`, key: `${fixture!.dir}/tls/tls.key`, minVersion: 'TLSv1.2' } });
    expect(admin.tls).toEqual({ cert: '/etc/a.crt', key: '/etc/a.key', minVersion: 'TLSv1.3' });
    expect(check?.tls?.cert).toBe(`${fixture!.dir}/c.pem`);
    expect(checkDialect).toBe('envoy');
  });

  it('the object form without tls is plain HTTP, like host:port', () => {
    const result = load('  proxy: { address: 127.0.0.1:8080 }\n');
    expect(result.ok && result.snapshot.listen.proxy).toEqual({ host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080' });
  });

  it.each([
    ['  proxy: { tls: { cert: a, key: b } }\n', 'address'],
    ['  proxy: { address: 127.0.0.1:8443, tls: { cert: a } }\n', 'key'],
    ['  proxy: { address: 127.0.0.1:8443, tls: { cert: a, key: b, minVersion: TLSv1.1 } }\n', 'listen.proxy.tls.minVersion must be one of TLSv1.2, TLSv1.3'],
    ['  proxy: { address: 127.0.0.1:8443, tls: { cert: a, key: b, ciphers: x } }\n', 'ciphers'],
    ['  proxy: { address: 127.0.0.1:8443, tls: { cert: "", key: b } }\n', 'listen.proxy.tls.cert is empty'],
    ['  admin: { address: nowhere, tls: { cert: a, key: b } }\n', 'not a listen address'],
  ])('%s is an error at its line', (listen, message) => {
    expect(errors(load(listen))).toEqual([expect.stringMatching(new RegExp(`^12: .*${message.replace(/[.*]/g, '\\$&')}`))]);
  });
});

describe('client certificates in the config', () => {
  it('clientCa turns client certificates on (request by default); clientCert alone is an error', () => {
    const result = load('  proxy: { address: 127.0.0.1:8443, tls: { cert: a, key: b, clientCa: ca.pem } }\n');
    expect(result.ok && result.snapshot.listen.proxy.tls).toMatchObject({ clientCa: `${fixture!.dir}/ca.pem`, clientCert: 'request' });
    expect(errors(load('  proxy: { address: 127.0.0.1:8443, tls: { cert: a, key: b, clientCert: require } }\n'))).toEqual([
      expect.stringMatching(/^12: .*needs listen\.proxy\.tls\.clientCa/),
    ]);
    expect(errors(load('  proxy: { address: 127.0.0.1:8443, tls: { cert: a, key: b, clientCa: c, clientCert: always } }\n'))).toEqual([
      expect.stringMatching(/^12: .*clientCert must be request or require/),
    ]);
  });

  it.each([
    ['{ sha256: "ab:cd" }', 'clientCert.sha256 must be 32 bytes of hex'],
    ['{ sha256: "00", subject: "CN=x" }', 'exactly one of sha256, subject, san'],
    ['{ san: "client.example" }', 'must name its type'],
    ['{ subject: "" }', 'clientCert.subject is empty'],
  ])('a key clientCert %s is an error at its line', (binding, message) => {
    fixture = writeFixture({
      'keygate.yaml': MAIN,
      'policy.yaml': POLICY,
      'keys.yaml': KEYS.replace('    scope: restricted\n', `    scope: restricted\n    clientCert: ${binding}\n`),
      'compute.token': 't',
    });
    const result = loadConfig(fixture.mainFile, { env: {} });
    expect(result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.message}`)).toEqual([expect.stringMatching(new RegExp(`^6: .*${message}`))]);
  });

  it('binds a key by sha256 in the canonical form, whatever case and colons it was written in', () => {
    const hex = 'ab'.repeat(32);
    fixture = writeFixture({
      'keygate.yaml': MAIN,
      'policy.yaml': POLICY,
      'keys.yaml': KEYS.replace('    scope: restricted\n', `    scope: restricted\n    clientCert: { sha256: "${hex}" }\n`),
      'compute.token': 't',
    });
    const result = loadConfig(fixture.mainFile, { env: {} });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.snapshot.clientCertBindings.get('AAAAAAAAAAAA')).toEqual({ sha256: Array(32).fill('AB').join(':') });
  });
});
