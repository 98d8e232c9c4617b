import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { adminHandler } from '../../src/observability/admin.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Listener } from '../../src/proxy/listener.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

const logged: string[] = [];
const logger = createLogger({ level: 'info', destination: { write: (s: string) => void logged.push(s) } });
let server: Listener | undefined;

type AdminMetrics = Parameters<typeof adminHandler>[0];

/** The admin routes on a listener of their own, as `keygate serve` opens them. */
function startAdmin(metrics: AdminMetrics, isReady: () => boolean, port = 0): Promise<Listener> {
  return Listener.start({ host: '127.0.0.1', port, maxHeaderSize: 16 * 1024, onRequest: adminHandler(metrics, isReady, logger) });
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(isReady: () => boolean = () => true, metrics = new Metrics({ defaultMetrics: false })): Promise<string> {
  server = await startAdmin(metrics, isReady);
  return `http://127.0.0.1:${server.port}`;
}

describe('admin listener', () => {
  it('listens on the given host and a free port', async () => {
    await start();
    expect(server?.host).toBe('127.0.0.1');
    expect(server?.port).toBeGreaterThan(0);
  });

  it('serves /metrics in the Prometheus text format with what was recorded', async () => {
    const metrics = new Metrics();
    metrics.requestFinished({ service: 'compute', method: 'GET', decision: 'deny', reason: 'key_expired', mode: 'proxy' }, 0.002);
    const base = await start(() => true, metrics);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const exp = parseExposition(await res.text());
    expect(valueOf(exp, 'keygate_requests_total', { reason: 'key_expired' })).toBe(1);
    expect(exp.types.get('process_resident_memory_bytes')).toBe('gauge');
  });

  it('ignores a query string on /metrics', async () => {
    const base = await start();
    expect((await fetch(`${base}/metrics?name[]=x`)).status).toBe(200);
  });

  it('answers /healthz with ok', async () => {
    const base = await start(() => false);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('answers /readyz 200 when ready and 503 when not, asking each time', async () => {
    let ready = false;
    const base = await start(() => ready);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ready');
  });

  it('answers 503 when the readiness check throws, and logs it', async () => {
    const base = await start(() => {
      throw new Error('no snapshot');
    });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect(logged.join('')).toContain('no snapshot');
  });

  it.each(['/', '/metrics/', '/healthz/x', '/favicon.ico', '/compute/v2'])('answers 404 for %s', async (path) => {
    const base = await start();
    expect((await fetch(`${base}${path}`)).status).toBe(404);
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('answers 405 with Allow for %s', async (method) => {
    const base = await start();
    const res = await fetch(`${base}/metrics`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers HEAD with the headers and no body', async () => {
    const base = await start();
    const res = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await res.text()).toBe('');
  });

  it('answers 500 when collecting metrics fails', async () => {
    const failing = { contentType: 'text/plain', metricsText: () => Promise.reject(new Error('collector broke')) };
    server = await startAdmin(failing, () => true);
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status).toBe(500);
  });

  it('closes while a scraper holds a keep-alive connection', async () => {
    const base = await start();
    const { port } = new URL(base);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const closed = server!.close();
    server = undefined;
    await expect(closed).resolves.toBeUndefined();
  });

  it('refuses a port already in use', async () => {
    await start();
    await expect(startAdmin(new Metrics({ defaultMetrics: false }), () => true, server!.port)).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });

  it('exposes the routes as a handler for a listener the app owns', () => {
    expect(adminHandler(new Metrics({ defaultMetrics: false }), () => true)).toBeTypeOf('function');
  });
});
