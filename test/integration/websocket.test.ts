import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { withWrongSecret } from '../helpers/keys.js';
import { rawRequest, requestHead } from '../helpers/raw.js';

/** WebSocket upgrades are decided like any request, then spliced to the upstream. */
const WS_PATH = '/compute/v2/p1/servers/1/console';

function upgradeHead(target: string, extra: ReadonlyArray<readonly [string, string]>): string {
  return requestHead('GET', target, [
    ['Host', 'localhost'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
    ['Sec-WebSocket-Version', '13'],
    ...extra,
  ]);
}

function open(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: RawData; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data, binary })));
}

describe('WebSocket through keygate', () => {
  let http: Server;
  let wss: WebSocketServer;
  const upgrades: { url: string; headers: IncomingHttpHeaders }[] = [];
  let upstreamClosed = 0;
  let cfg: TempConfig;
  let kg: RunningKeygate;
  let wsBase: string;
  beforeAll(async () => {
    http = createServer((_req, res) => res.writeHead(426).end());
    wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      upgrades.push({ url: req.url ?? '', headers: req.headers });
      if (!req.url?.endsWith('/console')) {
        socket.end(
          'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\nX-Upstream: yes\r\nContent-Length: 21\r\nConnection: close\r\n\r\n{"error":"not yours"}',
        );
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data, binary) => ws.send(data, { binary }));
        ws.on('close', () => upstreamClosed++);
      });
    });
    await new Promise<void>((resolve) => http.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cfg = tempConfig(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
    kg = await startKeygate(cfg.mainFile);
    wsBase = kg.url().replace('http:', 'ws:');
  });
  afterAll(async () => {
    await kg?.close();
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    http?.closeAllConnections();
    await new Promise((resolve) => http?.close(resolve));
    cfg?.cleanup();
  });

  it('echoes text and binary messages; the upstream saw the service token, not the key', async () => {
    const ws = await open(`${wsBase}${WS_PATH}`, { authorization: `Bearer ${DEMO_KEYS.monitoring.key}`, 'x-keygate-user': 'forged' });
    const text = nextMessage(ws);
    ws.send('hello through keygate');
    expect((await text).data.toString()).toBe('hello through keygate');
    const blob = randomBytes(1024 * 1024);
    const binary = nextMessage(ws);
    ws.send(blob);
    const echoed = await binary;
    expect(echoed.binary).toBe(true);
    expect(Buffer.compare(echoed.data as Buffer, blob)).toBe(0);

    const seen = upgrades.at(-1)!;
    expect(seen.url).toBe('/v2/p1/servers/1/console');
    expect(seen.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    expect(seen.headers['x-keygate-user']).toBe('joe');
    expect(seen.headers['x-keygate-key-id']).toBe(DEMO_KEYS.monitoring.id);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(JSON.stringify(seen.headers)).not.toContain(DEMO_KEYS.monitoring.key);
    expect(JSON.stringify(seen.headers)).not.toContain('forged');

    const closed = upstreamClosed;
    ws.close(1000, 'bye');
    await waitFor(
      () => upstreamClosed > closed,
      3_000,
      () => 'upstream never saw the close',
    );
  });

  it('the 101 response carries the request id', async () => {
    const ws = new WebSocket(`${wsBase}${WS_PATH}`, { headers: { 'x-api-key': DEMO_KEYS.deploy.key, 'x-request-id': 'ws-1' } });
    const upgradeHeaders = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers));
      ws.once('error', reject);
    });
    expect(upgradeHeaders['x-request-id']).toBe('ws-1');
    expect(upgrades.at(-1)?.headers['x-request-id']).toBe('ws-1');
    ws.terminate();
  });

  const denied = [
    { desc: 'no key', target: WS_PATH, headers: [] as [string, string][], status: 401, reason: 'missing_credentials' },
    {
      desc: 'a truncated key',
      target: WS_PATH,
      headers: [['Authorization', `Bearer ${DEMO_KEYS.monitoring.key.slice(0, 20)}`]] as [string, string][],
      status: 401,
      reason: 'malformed_credentials',
    },
    {
      desc: 'a wrong secret',
      target: WS_PATH,
      headers: [['Authorization', `Bearer ${withWrongSecret(DEMO_KEYS.monitoring)}`]] as [string, string][],
      status: 401,
      reason: 'invalid_key',
    },
    {
      desc: 'a key outside its scope',
      target: '/identity/v3/stream',
      headers: [['X-API-Key', DEMO_KEYS.monitoring.key]] as [string, string][],
      status: 403,
      reason: 'key_scope_denied',
    },
    {
      desc: 'an unsafe path',
      target: '/compute/v2/p1/servers/%2e%2e/console',
      headers: [['X-API-Key', DEMO_KEYS.monitoring.key]] as [string, string][],
      status: 400,
      reason: 'bad_target',
    },
    {
      desc: 'no route',
      target: '/elsewhere/console',
      headers: [['X-API-Key', DEMO_KEYS.monitoring.key]] as [string, string][],
      status: 404,
      reason: 'no_route',
    },
  ];

  it.each(denied)(
    'denied upgrade ($desc): $status on the raw socket, upstream never saw it',
    async ({ target, headers, status, reason }) => {
      const before = upgrades.length;
      const res = await rawRequest(kg.app.port('proxy'), upgradeHead(target, headers));
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.headers.upgrade).toBeUndefined();
      expect(JSON.parse(res.body)).toMatchObject({ status, reason, requestId: res.headers['x-request-id'] });
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(upgrades.length).toBe(before);
    },
  );

  it('an upstream that refuses the upgrade: its answer is relayed, not a 101 and not a 502', async () => {
    const before = upgrades.length;
    const res = await rawRequest(
      kg.app.port('proxy'),
      upgradeHead('/compute/v2/p1/servers/1/other', [
        ['X-API-Key', DEMO_KEYS.monitoring.key],
        ['X-Request-Id', 'refused-1'],
      ]),
    );
    expect(upgrades.length).toBe(before + 1);
    expect(res.status).toBe(403);
    expect(res.body).toBe('{"error":"not yours"}');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['x-request-id']).toBe('refused-1');
    expect(res.raw).not.toContain('101 Switching');
    const line = await waitFor(() => kg.logs().find((l) => l.request_id === 'refused-1'));
    expect(line).toMatchObject({ status: 403, decision: 'allow' });
  });

  it('keygate still serves WebSockets after a refusal', async () => {
    const ws = await open(`${wsBase}${WS_PATH}`, { 'x-api-key': DEMO_KEYS.monitoring.key });
    const reply = nextMessage(ws);
    ws.send('again');
    expect((await reply).data.toString()).toBe('again');
    ws.close();
  });
});
