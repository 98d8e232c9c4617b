import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/proxy/explain.js';
import { makeCertificate } from '../helpers/certs.js';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend } from '../helpers/http.js';
import { httpsSend } from '../helpers/https.js';

/**
 * Client certificates: the proxy listener asks for them (`request`), the decision API
 * requires them (`require`); keys bound by sha256 or subject work only with a verified,
 * matching certificate, and the client cannot tell a missing or wrong certificate from a
 * wrong key while the log can.
 */
const server = makeCertificate({ cn: 'server' });
const ca = makeCertificate({ cn: 'clients-ca', ca: true });
const one = makeCertificate({ cn: 'client-one', issuer: ca });
const two = makeCertificate({ cn: 'client-two', issuer: ca });
const rogue = makeCertificate({ cn: 'client-two' }); // same subject, not signed by the CA
const PATH = '/compute/v2/p1/servers/1';
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
const TLS = '{ cert: ./tls.crt, key: ./tls.key, clientCa: ./clients-ca.pem, clientCert: CLIENT }';

describe('client certificates', () => {
  const fx = useKeygate({
    edit: (main) =>
      main
        .replace('address: 127.0.0.1:0', `address: 127.0.0.1:0\n    tls: ${TLS.replace('CLIENT', 'require')}`)
        .replace('proxy: 127.0.0.1:0', `proxy: { address: 127.0.0.1:0, tls: ${TLS.replace('CLIENT', 'request')} }`),
    prepare: (cfg) => {
      writeFileSync(cfg.path('tls.crt'), server.cert);
      writeFileSync(cfg.path('tls.key'), server.key);
      writeFileSync(cfg.path('clients-ca.pem'), ca.cert);
      const keys = cfg
        .read('keys.yaml')
        .replace('    name: deploy\n', `    name: deploy\n    clientCert: { sha256: "${one.sha256.toLowerCase()}" }\n`)
        .replace('    name: monitoring\n', '    name: monitoring\n    clientCert: { subject: "CN=client-two" }\n');
      cfg.write('keys.yaml', keys);
    },
  });
  const proxy = (key: string, cert?: { cert: string; key: string }) =>
    httpsSend(`https://127.0.0.1:${fx.kg.app.port('proxy')}${PATH}`, { ca: server.cert, headers: bearer(key), ...(cert ?? {}) });
  const lastReason = (): unknown =>
    fx.kg
      .logs()
      .filter((l) => l.msg === 'request')
      .at(-1)?.reason;

  it('a key bound by sha256 works with its certificate only; the client sees invalid_key either way, the log the precise reason', async () => {
    expect((await proxy(DEMO_KEYS.deploy.key, one)).status).toBe(200);
    const wrong = await proxy(DEMO_KEYS.deploy.key, two);
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body).reason).toBe('invalid_key');
    expect(lastReason()).toBe('client_cert_mismatch');
    const none = await proxy(DEMO_KEYS.deploy.key);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).reason).toBe('invalid_key');
    expect(lastReason()).toBe('client_cert_missing');
  });

  it('a key bound by subject needs a certificate the CA signed: the same subject self-signed is no certificate at all', async () => {
    expect((await proxy(DEMO_KEYS.monitoring.key, two)).status).toBe(200);
    expect((await proxy(DEMO_KEYS.monitoring.key, one)).status).toBe(401);
    expect(lastReason()).toBe('client_cert_mismatch');
    expect((await proxy(DEMO_KEYS.monitoring.key, rogue)).status).toBe(401);
    expect(lastReason()).toBe('client_cert_missing');
  });

  it('keys without a binding keep working with or without a certificate (clientCert: request)', async () => {
    expect((await proxy(DEMO_KEYS.aliceAdmin.key)).status).toBe(200);
    expect((await proxy(DEMO_KEYS.aliceAdmin.key, two)).status).toBe(200);
  });

  it('clientCert: require refuses the handshake without a valid certificate; the decision API refuses bound keys', async () => {
    const check = `https://127.0.0.1:${fx.kg.app.port('check')}${PATH}`;
    await expect(httpsSend(check, { ca: server.cert, headers: bearer(DEMO_KEYS.aliceAdmin.key) })).rejects.toThrow();
    await expect(httpsSend(check, { ca: server.cert, headers: bearer(DEMO_KEYS.aliceAdmin.key), ...rogue })).rejects.toThrow();
    expect((await httpsSend(check, { ca: server.cert, headers: bearer(DEMO_KEYS.aliceAdmin.key), ...two })).status).toBe(200);
    const bound = await httpsSend(check, { ca: server.cert, headers: bearer(DEMO_KEYS.deploy.key), ...one });
    expect(bound.status).toBe(401);
    expect(lastReason()).toBe('client_cert_missing');
    // The plain admin port never asks for one.
    expect((await httpSend(`${fx.kg.url('admin')}/healthz`)).status).toBe(200);
  });

  it('explain shows the binding', () => {
    const e = explain(fx.kg.app.snapshot(), {
      keyId: DEMO_KEYS.deploy.id,
      method: 'GET',
      path: PATH,
      host: undefined,
      region: fx.kg.app.snapshot().region,
      service: undefined,
      clientIp: '127.0.0.1',
      now: Date.now(),
    });
    expect('clientCert' in e && e.clientCert).toBe(`sha256 ${one.sha256}`);
  });
});
