import { Agent } from 'node:https';
import { describe, expect, it } from 'vitest';
import { makeCertificate, type TestCertificate } from '../helpers/certs.js';
import { DEMO_KEYS, tempConfig } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend } from '../helpers/http.js';
import { httpsSend } from '../helpers/https.js';
import { spawnKeygate, startKeygate, waitFor } from '../helpers/keygate.js';
import { kubeletWrite } from '../helpers/kubeletVolume.js';
import { parseExposition, valueOf } from '../helpers/promText.js';
import { startUpstream } from '../helpers/upstream.js';

/**
 * TLS on every listener (object form `{ address, tls }`), with the certificate in a
 * Kubernetes Secret volume (`..data` swaps): handshakes, hot swaps under traffic, bad
 * pairs kept out, the expiry metric.
 */
const first = makeCertificate({ cn: 'first', days: 30 });
const second = makeCertificate({ cn: 'second', days: 60 });
const third = makeCertificate({ cn: 'third', days: 90 });
const ca = [first.cert, second.cert, third.cert];
const TLS = '{ cert: ./tls/tls.crt, key: ./tls/tls.key }';
const allowed = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
const PATH = '/compute/v2/p1/servers/42';

const secret = (pair: TestCertificate, key = pair.key): Record<string, string> => ({ 'tls.crt': pair.cert, 'tls.key': key });

describe('TLS listeners', () => {
  const fx = useKeygate({
    edit: (main) =>
      main
        .replace('address: 127.0.0.1:0', `address: 127.0.0.1:0\n    tls: ${TLS}`)
        .replace('proxy: 127.0.0.1:0', `proxy: { address: 127.0.0.1:0, tls: ${TLS} }`)
        .replace('admin: 127.0.0.1:0', `admin: { address: 127.0.0.1:0, tls: ${TLS} }`),
    prepare: (cfg) => kubeletWrite(cfg.path('tls'), secret(first)),
  });
  const url = (listener: 'proxy' | 'admin' | 'check' = 'proxy', path = PATH): string =>
    `https://127.0.0.1:${fx.kg.app.port(listener)}${path}`;
  const expiryOf = async (): Promise<number | undefined> => {
    const res = await httpsSend(url('admin', '/metrics'), { ca });
    return valueOf(parseExposition(res.body), 'keygate_tls_cert_expiry_timestamp_seconds', { listener: 'proxy' });
  };

  it('serves HTTPS with the configured pair on the proxy, decision and admin ports, and the same decisions', async () => {
    const ok = await httpsSend(url(), { ca, headers: allowed });
    expect(ok.status).toBe(200);
    expect(ok.peerSha256).toBe(first.sha256);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(ok.protocol);
    expect((await httpsSend(url(), { ca })).status).toBe(401);
    expect((await httpsSend(url('check', '/'), { ca })).peerSha256).toBe(first.sha256);
    expect((await httpsSend(url('admin', '/healthz'), { ca })).status).toBe(200);
    // Plain HTTP to a TLS port is no request at all.
    await expect(httpSend(`http://127.0.0.1:${fx.kg.app.port('proxy')}${PATH}`, { headers: allowed })).rejects.toThrow();
    expect(await expiryOf()).toBe(first.expires);
    expect(
      valueOf(parseExposition((await httpsSend(url('admin', '/metrics'), { ca })).body), 'keygate_tls_cert_expiry_timestamp_seconds', {
        listener: 'check',
      }),
    ).toBe(first.expires);
  });

  it('swaps in a renewed pair under traffic: no request fails, new handshakes get it, open connections stay', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsSend(url(), { ca, agent, headers: allowed });
      expect(before.peerSha256).toBe(first.sha256);
      let failures = 0;
      let requests = 0;
      let swapped = false;
      const traffic = (async () => {
        const deadline = Date.now() + 10_000;
        while (!swapped && Date.now() < deadline && requests < 2_000) {
          requests++;
          const r = await httpsSend(url(), { ca, headers: allowed }).catch(() => undefined);
          if (r?.status !== 200) failures++;
          else if (r.peerSha256 === second.sha256) swapped = true;
        }
      })();
      kubeletWrite(fx.cfg.path('tls'), secret(second));
      await traffic;
      expect(swapped).toBe(true);
      expect(failures).toBe(0);
      expect(requests).toBeGreaterThan(0);
      const kept = await httpsSend(url(), { ca, agent, headers: allowed });
      expect(kept).toMatchObject({ status: 200, reused: true, peerSha256: first.sha256 });
      expect(await expiryOf()).toBe(second.expires);
      expect(fx.kg.logs().some((l) => l.event === 'tls_reloaded' && l.listener === 'proxy' && l.sha256 === second.sha256)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('keeps serving the last good pair when the new one is mismatched or not PEM, and names the file', async () => {
    const failedFor = (file: string): boolean =>
      fx.kg.logs().some((l) => l.event === 'tls_reload_failed' && l.listener === 'proxy' && String(l.file).endsWith(file));
    kubeletWrite(fx.cfg.path('tls'), secret(third, first.key)); // third's certificate, another key
    await waitFor(
      () => failedFor('tls/tls.key'),
      10_000,
      () => 'no tls_reload_failed for the key',
    );
    expect(String(fx.kg.logs().find((l) => l.event === 'tls_reload_failed')?.reason)).toMatch(/mismatch/i);
    expect((await httpsSend(url(), { ca, headers: allowed })).peerSha256).toBe(second.sha256);
    kubeletWrite(fx.cfg.path('tls'), { 'tls.crt': 'not a certificate\n', 'tls.key': third.key });
    await waitFor(
      () => failedFor('tls/tls.crt'),
      10_000,
      () => 'no tls_reload_failed for the certificate',
    );
    expect((await httpsSend(url(), { ca, headers: allowed })).peerSha256).toBe(second.sha256);
    expect(await expiryOf()).toBe(second.expires);
    // Fixed: served at once.
    kubeletWrite(fx.cfg.path('tls'), secret(third));
    await waitFor(async () => (await httpsSend(url(), { ca, headers: allowed })).peerSha256 === third.sha256, 10_000);
  });

  it('reloads the pair on a forced reload (SIGHUP) even when no file event came', async () => {
    await fx.kg.app.reload('signal');
    expect((await httpsSend(url(), { ca, headers: allowed })).peerSha256).toBe(third.sha256);
  });
});

describe('TLS at start-up', () => {
  it('refuses to start with a mismatched pair, naming the key file and the OpenSSL reason', async () => {
    const cfg = tempConfig('http://127.0.0.1:9', (main) =>
      main.replace('proxy: 127.0.0.1:0', `proxy: { address: 127.0.0.1:0, tls: ${TLS} }`),
    );
    try {
      kubeletWrite(cfg.path('tls'), secret(first, second.key));
      await expect(startKeygate(cfg.mainFile)).rejects.toThrow(/listen\.proxy\.tls: .*tls\.key: .*mismatch/i);
    } finally {
      cfg.cleanup();
    }
  });
});

describe('TLS with serve --workers 2', () => {
  it('every worker serves the pair and swaps to a renewed one; the primary serves the admin port and one expiry series per listener', async () => {
    const upstream = await startUpstream((_req, res) => void res.writeHead(200).end('ok'));
    const cfg = tempConfig(upstream.origin, (main) =>
      main
        .replace('proxy: 127.0.0.1:0', `proxy: { address: 127.0.0.1:0, tls: ${TLS} }`)
        .replace('admin: 127.0.0.1:0', `admin: { address: 127.0.0.1:0, tls: ${TLS} }`),
    );
    kubeletWrite(cfg.path('tls'), secret(first));
    const kg = spawnKeygate(['serve', '-c', cfg.mainFile, '--workers', '2']);
    try {
      const ports = await kg.ports();
      const served = async (): Promise<string[]> => {
        const out: string[] = [];
        // New connections: the primary hands them to the workers in turn.
        for (let i = 0; i < 4; i++) {
          const r = await httpsSend(`https://127.0.0.1:${ports.proxy}${PATH}`, { ca, headers: allowed });
          expect(r.status).toBe(200);
          out.push(r.peerSha256);
        }
        return out;
      };
      expect(await served()).toEqual(Array(4).fill(first.sha256));
      const exp = parseExposition((await httpsSend(`https://127.0.0.1:${ports.admin}/metrics`, { ca })).body);
      expect(valueOf(exp, 'keygate_tls_cert_expiry_timestamp_seconds', { listener: 'proxy' })).toBe(first.expires);
      expect(valueOf(exp, 'keygate_tls_cert_expiry_timestamp_seconds', { listener: 'admin' })).toBe(first.expires);
      kubeletWrite(cfg.path('tls'), secret(second));
      await waitFor(
        async () => (await served()).every((sha) => sha === second.sha256) || undefined,
        10_000,
        () => kg.stdout(),
      );
      expect((await httpsSend(`https://127.0.0.1:${ports.admin}/healthz`, { ca })).peerSha256).toBe(second.sha256);
    } finally {
      kg.child.kill('SIGTERM');
      await kg.exited;
      cfg.cleanup();
      await upstream.close();
    }
  }, 30_000);
});
