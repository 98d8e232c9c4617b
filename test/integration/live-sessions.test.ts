import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey, type TestKey } from '../helpers/keys.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

/**
 * Permission is not only checked at the door: WebSockets and streamed responses opened
 * with a key are closed when a reload revokes, deletes or rotates that key, disables
 * its user or takes the route out of its scope — and when the key's `expires` passes,
 * without a reload. Each closing is counted.
 */
const WS_PATH = '/compute/v2/p1/servers/1/console';
const STREAM_PATH = '/compute/v2/p1/servers/1/stream';

describe('live connections after revocation and expiry', () => {
  let http: Server;
  let wss: WebSocketServer;
  const streams: ServerResponse[] = [];
  let origin = '';
  beforeAll(async () => {
    http = createServer((req: IncomingMessage, res: ServerResponse) => {
      // A long-running streamed response: a chunk now, the rest when the test ends it.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      streams.push(res);
      req.resume();
    });
    wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d, binary) => ws.send(d, { binary }))),
    );
    await new Promise<void>((resolve) => http.listen({ host: '127.0.0.1', port: 0 }, resolve));
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of streams) r.destroy();
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  let cfg: TempConfig | undefined;
  let kg: RunningKeygate | undefined;
  afterEach(async () => {
    await kg?.close();
    cfg?.cleanup();
    kg = undefined;
    cfg = undefined;
  });

  async function start(
    keyLines: (key: TestKey) => string,
    key: TestKey,
    edit: (main: string) => string = (m) => m,
  ): Promise<{ cfg: TempConfig; kg: RunningKeygate }> {
    cfg = tempConfig(origin, edit);
    cfg.write('keys.yaml', `${cfg.read('keys.yaml').trimEnd()}\n${keyLines(key)}\n`);
    kg = await startKeygate(cfg.mainFile);
    return { cfg, kg };
  }

  function openWs(k: RunningKeygate, key: TestKey): Promise<WebSocket> {
    const ws = new WebSocket(`${k.url().replace('http', 'ws')}${WS_PATH}`, { headers: { authorization: `Bearer ${key.key}` } });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  }

  function closed(ws: WebSocket): Promise<number> {
    return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }

  /** A streamed GET: resolves once the first chunk arrived; `ended` says how the response ended. */
  function openStream(k: RunningKeygate, key: TestKey): Promise<{ ended: Promise<'complete' | 'cut'> }> {
    return new Promise((resolve, reject) => {
      const req = request(`${k.url()}${STREAM_PATH}`, { headers: { authorization: `Bearer ${key.key}` }, agent: false }, (res) => {
        const ended = new Promise<'complete' | 'cut'>((done) => {
          res.on('end', () => done('complete'));
          res.on('error', () => done('cut'));
          res.on('aborted', () => done('cut'));
        });
        res.once('data', () => resolve({ ended }));
        res.resume();
      });
      req.on('error', reject);
      req.end();
    });
  }

  async function terminated(k: RunningKeygate, reason: string, kind: string): Promise<number> {
    const text = await (await fetch(`${k.url('admin')}/metrics`)).text();
    return valueOf(parseExposition(text), 'keygate_connections_terminated_total', { reason, kind }) ?? 0;
  }

  const inherit =
    (name: string, fields: string[] = []) =>
    (key: TestKey) =>
      keyEntry(key, 'joe', name, ['scope: inherit', ...fields]);

  const revocations = [
    {
      desc: 'key revoked (disabled: true)',
      reason: 'key_disabled',
      edit: (c: TempConfig) =>
        c.write('keys.yaml', c.read('keys.yaml').replace(`    name: live\n`, `    name: live\n    disabled: true\n`)),
    },
    {
      desc: 'key deleted',
      reason: 'unknown_key',
      edit: (c: TempConfig, key: TestKey) =>
        c.write('keys.yaml', c.read('keys.yaml').replace(keyEntry(key, 'joe', 'live', ['scope: inherit']), '')),
    },
    {
      desc: 'user disabled',
      reason: 'user_disabled',
      edit: (c: TempConfig) => c.write('policy.yaml', c.read('policy.yaml').replace(/(\n {2}joe:\n)/, '$1    disabled: true\n')),
    },
    {
      desc: 'route now out of scope (a deny rule)',
      reason: 'key_deny_rule',
      edit: (c: TempConfig, key: TestKey) =>
        c.write(
          'keys.yaml',
          c
            .read('keys.yaml')
            .replace(
              keyEntry(key, 'joe', 'live', ['scope: inherit']),
              keyEntry(key, 'joe', 'live', ['scope: inherit', 'deny:', '  - { service: compute, path: "/v2/*/servers/*/console" }']),
            ),
        ),
    },
  ];

  it.each(revocations)('$desc: an open WebSocket gets close 1008 on the reload, counted', async ({ reason, edit }) => {
    const key = newKey();
    const { cfg: c, kg: k } = await start(inherit('live'), key);
    const ws = await openWs(k, key);
    const code = closed(ws);
    ws.send('still here?');
    await new Promise((r) => ws.once('message', r));
    edit(c, key);
    expect((await k.app.reload('signal')).result).toBe('success');
    expect(await code).toBe(1008);
    expect(await terminated(k, reason, 'upgrade')).toBe(1);
    expect(k.logs().find((l) => l.event === 'connection_terminated')).toMatchObject({ reason, kind: 'upgrade', keyId: key.id });
    expect(k.logText()).not.toContain(key.key);
  });

  it('a rotated key (same id, new secret): the connection opened with the old secret closes', async () => {
    const key = newKey();
    const { cfg: c, kg: k } = await start(inherit('live'), key);
    const ws = await openWs(k, key);
    const code = closed(ws);
    const rotated = newKey();
    c.write('keys.yaml', c.read('keys.yaml').replace(key.hash, rotated.hash));
    await k.app.reload('signal');
    expect(await code).toBe(1008);
    expect(await terminated(k, 'bad_secret', 'upgrade')).toBe(1);
  });

  it('a reload that leaves the key its access keeps the connection open', async () => {
    const key = newKey();
    const { cfg: c, kg: k } = await start(inherit('live'), key);
    const ws = await openWs(k, key);
    c.write('keys.yaml', `${c.read('keys.yaml').trimEnd()}\n${keyEntry(newKey(), 'joe', 'other', ['scope: inherit'])}\n`);
    expect((await k.app.reload('signal')).result).toBe('success');
    ws.send('echo');
    await expect(new Promise((r) => ws.once('message', (d) => r(String(d))))).resolves.toBe('echo');
    ws.close();
  });

  it('a streamed response of a revoked key is cut on the reload', async () => {
    const key = newKey();
    const { cfg: c, kg: k } = await start(inherit('live'), key);
    const stream = await openStream(k, key);
    revocations[0].edit(c, key);
    await k.app.reload('signal');
    await expect(stream.ended).resolves.toBe('cut');
    expect(await terminated(k, 'key_disabled', 'stream')).toBe(1);
  });

  it('terminateStreamsOnRevoke: false keeps a streamed response running', async () => {
    const key = newKey();
    const { cfg: c, kg: k } = await start(inherit('live'), key, (m) =>
      m.replace(
        '    timeouts: { connect: 2s, response: 30s }',
        '    timeouts: { connect: 2s, response: 30s }\n    terminateStreamsOnRevoke: false',
      ),
    );
    const before = streams.length;
    const stream = await openStream(k, key);
    revocations[0].edit(c, key);
    expect((await k.app.reload('signal')).result).toBe('success');
    expect(await terminated(k, 'key_disabled', 'stream')).toBe(0);
    streams[before]!.end('last\n');
    await expect(stream.ended).resolves.toBe('complete');
  });

  it('a key whose expires passes has its WebSocket closed without a reload', async () => {
    const key = newKey();
    const expires = new Date(Math.ceil((Date.now() + 1_500) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const { kg: k } = await start(inherit('live', [`expires: ${expires}`]), key);
    const ws = await openWs(k, key);
    const code = closed(ws);
    expect(await code).toBe(1008);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expires));
    await waitFor(async () => (await terminated(k, 'key_expired', 'upgrade')) === 1);
  });
});
