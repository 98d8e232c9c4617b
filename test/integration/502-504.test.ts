import { createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';
import { replaceServices } from '../helpers/mainFile.js';
import { rawRequest, requestHead } from '../helpers/raw.js';

/**
 * Upstream failures: 502 when it cannot be reached or breaks before answering, 504 when
 * it is slower than `timeouts.response`; the client never sees the upstream's error text.
 */
const AUTH = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const GARBAGE = 'NOT-HTTP upstream-secret-banner ECONNREFUSED\r\n\r\n';

describe('502 and 504', () => {
  let slow: Server;
  let refusedPort: number;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  const hanging = new Set<import('node:http').ServerResponse>();
  beforeAll(async () => {
    slow = createServer((req, res) => {
      // An upgrade request with no 'upgrade' listener lands here too: it just hangs.
      const what = req.url?.split('/').pop();
      if (what === 'reset') return void req.socket.resetAndDestroy();
      if (what === 'garbage') return void req.socket.end(GARBAGE);
      if (what === 'stall') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial ');
      }
      hanging.add(res); // 'hang' and 'stall' never finish
    });
    await new Promise<void>((resolve) => slow.listen({ host: '127.0.0.1', port: 0 }, resolve));
    refusedPort = await closedPort();
    const slowOrigin = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    cfg = tempConfig(slowOrigin, (main) =>
      replaceServices(
        main,
        `
  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: http://127.0.0.1:${refusedPort}
    timeouts: { connect: 1s }
  - name: identity
    route: { pathPrefix: /identity, stripPrefix: true }
    upstream: ${slowOrigin}
    timeouts: { response: 300ms, idle: 300ms }
`,
      ),
    );
    kg = await startKeygate(cfg.mainFile);
  });
  afterAll(async () => {
    await kg?.close();
    slow?.closeAllConnections();
    await new Promise((resolve) => slow?.close(resolve));
    cfg?.cleanup();
  });

  const rows = [
    { desc: 'connection refused', path: '/compute/v2/p1/servers/1', status: 502, reason: 'upstream_failed', logged: 'upstream_failed' },
    {
      desc: 'upstream resets before answering',
      path: '/identity/v3/reset',
      status: 502,
      reason: 'upstream_failed',
      logged: 'upstream_failed',
    },
    {
      desc: 'upstream answers something that is not HTTP',
      path: '/identity/v3/garbage',
      status: 502,
      reason: 'upstream_failed',
      logged: 'upstream_failed',
    },
    {
      desc: 'no response headers within timeouts.response',
      path: '/identity/v3/hang',
      status: 504,
      reason: 'upstream_timeout',
      logged: 'upstream_timeout',
    },
  ];

  it.each(rows)('$desc → $status $reason, no upstream detail leaks', async ({ path, status, reason, logged }) => {
    const started = Date.now();
    const res = await fetch(`${kg.url()}${path}`, { headers: AUTH });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      type: 'about:blank',
      title: expect.any(String),
      status,
      reason,
      requestId: res.headers.get('x-request-id'),
    });
    expect(text).not.toMatch(/ECONN|UND_ERR|undici|socket|Headers Timeout|NOT-HTTP|banner|127\.0\.0\.1|\bat\s/i);
    expect(text).not.toContain(String(refusedPort));
    if (status === 504) expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const line = kg.logs().find((l) => l.request_id === res.headers.get('x-request-id'));
    expect(line?.reason).toBe(logged);
  });

  it('a body that stalls longer than timeouts.idle ends the response with an error', async () => {
    const outcome = await new Promise<{ status: number; complete: boolean; body: string; error?: string }>((resolve) => {
      const req = request(`${kg.url()}/identity/v3/stall`, { headers: AUTH }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        const done = (error?: string): void =>
          resolve({ status: res.statusCode ?? 0, complete: res.complete, body, ...(error ? { error } : {}) });
        res
          .on('end', () => done())
          .on('error', (e) => done(e.message))
          .on('aborted', () => done('aborted'));
      });
      req.on('error', (e) => resolve({ status: 0, complete: false, body: '', error: e.message }));
      req.end();
    });
    expect(outcome.status).toBe(200);
    expect(outcome.body).toBe('partial ');
    expect(outcome.complete).toBe(false);
    expect(outcome.error).toBeDefined();
  });

  it('a WebSocket upgrade to an unreachable upstream → 502, no upstream detail', async () => {
    const res = await rawRequest(
      kg.app.port('proxy'),
      requestHead('GET', '/compute/v2/p1/servers/1/ws', [
        ['Host', 'x'],
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['Sec-WebSocket-Version', '13'],
        ['Authorization', AUTH.authorization],
      ]),
    );
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ status: 502, reason: 'upstream_failed' });
    expect(res.body).not.toMatch(/ECONN|127\.0\.0\.1/);
  });

  it('a WebSocket upgrade that gets no answer within timeouts.response → 504', async () => {
    hanging.clear();
    const res = await rawRequest(
      kg.app.port('proxy'),
      requestHead('GET', '/identity/v3/hang', [
        ['Host', 'x'],
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['Sec-WebSocket-Version', '13'],
        ['Authorization', AUTH.authorization],
      ]),
    );
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body)).toMatchObject({ status: 504, reason: 'upstream_timeout' });
  });

  it('keygate still serves after every failure', async () => {
    hanging.forEach((r) => r.destroy());
    const res = await fetch(`${kg.url()}/compute/v2/p1/servers/1`, { headers: AUTH });
    expect(res.status).toBe(502);
    await res.text();
  });
});
