import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { send } from '../helpers/fronts.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';

/**
 * The decision API's connection behaviour and what it reports: bodies are never read
 * (nor invited with 100 Continue), X-Forwarded-For counts only from trusted proxies,
 * and every check shows up in metrics and the access log with mode "check".
 */

const MON = DEMO_KEYS.monitoring;
const ALICE = DEMO_KEYS.aliceAdmin; // sourceIPs 127.0.0.0/8, ::1

interface Exchange {
  /** Everything the socket delivered until it closed (or the deadline). */
  readonly text: string;
  readonly closed: boolean;
  /** When the first response byte arrived, in ms after the request was written. */
  readonly firstByteMs: number;
}

/** Writes `head` (and never the body it announces), then reads until close or `waitMs`. */
function exchange(port: number, head: string, waitMs = 3_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let firstByteMs = -1;
    let sentAt = 0;
    const timer = setTimeout(() => finish(false), waitMs);
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, firstByteMs });
    };
    socket.on('connect', () => {
      sentAt = performance.now();
      socket.write(head);
    });
    socket.on('data', (chunk: Buffer) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - sentAt;
      text += chunk.toString('latin1');
    });
    socket.on('close', () => finish(true));
    socket.on('error', (e) => (text ? finish(true) : reject(e)));
  });
}

const checkHead = (lines: readonly string[]): string => [...lines, '', ''].join('\r\n');

describe('decision API: bodies and connections', () => {
  let cfg: TempConfig;
  let kg: RunningKeygate;
  beforeAll(async () => {
    cfg = tempConfig('http://127.0.0.1:1');
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    cfg?.cleanup();
  });

  it('answers a check that announces a 100 MB body at once, without waiting for it, then closes', async () => {
    const res = await exchange(
      kg.app.port('check'),
      checkHead([
        'POST /compute/v2/p1/servers HTTP/1.1',
        'Host: api.test',
        `X-API-Key: ${DEMO_KEYS.deploy.key}`,
        'Content-Length: 104857600',
      ]) + 'only the first bytes',
    );
    expect(res.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(res.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(res.firstByteMs).toBeLessThan(1_000);
    expect(res.closed).toBe(true);
  });

  it('never invites the body with 100 Continue', async () => {
    const res = await exchange(
      kg.app.port('check'),
      checkHead([
        'PUT /compute/v2/p1/servers/1 HTTP/1.1',
        'Host: api.test',
        `X-API-Key: ${MON.key}`,
        'Content-Length: 5000000',
        'Expect: 100-continue',
      ]),
    );
    expect(res.text).not.toContain(' 100 ');
    expect(res.text).toMatch(/^HTTP\/1\.1 403 /); // monitoring is read-only
    expect(res.closed).toBe(true);
  });

  it('answers a chunked body that never ends', async () => {
    const res = await exchange(
      kg.app.port('check'),
      checkHead([
        'POST /x HTTP/1.1',
        'Host: api.test',
        'Transfer-Encoding: chunked',
        'X-Original-URI: /compute/v2/p1/servers/1',
        'X-Original-Method: GET',
        `X-API-Key: ${MON.key}`,
      ]) + '5\r\nhello\r\n',
    );
    expect(res.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(res.closed).toBe(true);
  });

  it('keeps bodiless check requests on one keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const once = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: kg.app.port('check'), path: '/compute/v2/p1/servers/1', headers: { 'x-api-key': MON.key }, agent },
          (res) => {
            sockets.add(res.socket);
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect([await once(), await once(), await once()]).toEqual([200, 200, 200]);
    expect(sockets.size).toBe(1);
    agent.destroy();
  });

  it('counts checks in keygate_requests_total with mode="check" and logs them with the original method and path', async () => {
    await send(kg.url('check'), {
      headers: { 'x-original-uri': '/compute/v2/p1/servers?secret=1', 'x-original-method': 'POST', 'x-api-key': MON.key },
    });
    const metrics = await (await fetch(`${kg.url('admin')}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('keygate_requests_total{') &&
          l.includes('mode="check"') &&
          l.includes('method="POST"') &&
          l.includes('decision="deny"'),
      );
    expect(line).toMatch(/service="compute"/);
    expect(line).toMatch(/reason="key_scope_denied"/);
    expect(Number(line!.split(' ').pop())).toBeGreaterThanOrEqual(1);
    const entry = kg.logs().find((l) => l.mode === 'check' && l.reason === 'key_scope_denied' && l.method === 'POST');
    expect(entry).toMatchObject({ path: '/compute/v2/p1/servers', key_id: MON.id, decision: 'deny', status: 403, service: 'compute' });
  });

  it('never logs a key or a service token', () => {
    expect(kg.logText()).not.toContain(MON.key);
    expect(kg.logText()).not.toContain(MON.key.split('_')[2]);
    expect(kg.logText()).not.toContain('demo-compute-service-token');
  });
});

describe('decision API: client address', () => {
  const cases = [
    { trusted: false, xff: '10.9.8.7', status: 200, why: 'X-Forwarded-For from an untrusted peer is ignored' },
    { trusted: true, xff: '10.9.8.7', status: 403, why: 'a trusted front proxy names the client' },
    { trusted: true, xff: '10.9.8.7, 127.0.0.1', status: 403, why: 'trusted hops are skipped from the right' },
    { trusted: true, xff: '127.0.0.9', status: 200, why: 'a client inside sourceIPs is admitted' },
  ];
  let plain: { cfg: TempConfig; kg: RunningKeygate };
  let trusting: { cfg: TempConfig; kg: RunningKeygate };
  beforeAll(async () => {
    const start = async (edit?: (m: string) => string): Promise<{ cfg: TempConfig; kg: RunningKeygate }> => {
      const cfg = tempConfig('http://127.0.0.1:1', edit);
      return { cfg, kg: await startKeygate(cfg.mainFile) };
    };
    plain = await start();
    trusting = await start((m) => m.replace(/\nlisten:\n/, '\nlisten:\n  trustedProxies: [127.0.0.1/32, "::1/128"]\n'));
  });
  afterAll(async () => {
    for (const k of [plain, trusting]) {
      await k?.kg.close();
      k?.cfg.cleanup();
    }
  });

  it.each(cases)('$why ($xff → $status)', async ({ trusted, xff, status }) => {
    const { kg } = trusted ? trusting : plain;
    const res = await send(kg.url('check'), { path: '/identity/v3/users', headers: { 'x-api-key': ALICE.key, 'x-forwarded-for': xff } });
    expect(res.status).toBe(status);
    if (status === 403) expect(JSON.parse(res.body).reason).toBe('source_ip_not_allowed');
  });
});

describe('decision API: off unless configured', () => {
  it('opens no check or gRPC listener without listen.check and listen.grpc', async () => {
    const cfg = tempConfig('http://127.0.0.1:1', (m) => m.replace(/\n {2}check:.*\n(?: {4}.*\n)*/, '\n').replace(/\n {2}grpc:.*\n/, '\n'));
    const kg = await startKeygate(cfg.mainFile);
    try {
      expect(Object.keys(kg.app.addresses()).sort()).toEqual(['admin', 'proxy']);
    } finally {
      await kg.close();
      cfg.cleanup();
    }
  });
});
