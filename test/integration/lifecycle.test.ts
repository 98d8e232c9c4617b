import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, waitFor, type KeygateProcess } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * `keygate serve` as a real process: drain on SIGTERM/SIGINT, refuse to start on bad
 * input. Each test has its own process, so they run concurrently.
 */
const AUTH = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
const slowPath = (name: string): string => `/compute/v2/p1/servers/slow-${name}`;

describe.concurrent('lifecycle of keygate serve', () => {
  let upstream: TestUpstream;
  /** Requests to /slow-* wait here, by upstream path, until the test releases them. */
  const held = new Map<string, () => void>();
  const configs: TempConfig[] = [];
  const children: KeygateProcess[] = [];
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      const answer = (): void => void res.writeHead(200, { 'content-type': 'text/plain' }).end(`done ${req.url}`);
      if (req.url?.includes('/slow-')) held.set(req.url, answer);
      else answer();
    });
    const wss = new WebSocketServer({ noServer: true });
    upstream.server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(m))));
  });
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    for (const c of configs) c.cleanup();
    await upstream?.close();
  });

  function serve(edit?: (main: string) => string): KeygateProcess {
    const cfg = tempConfig(upstream.origin, edit);
    configs.push(cfg);
    const kg = spawnKeygate(['serve', '-c', cfg.mainFile]);
    children.push(kg);
    return kg;
  }

  const drainingLogged = (kg: KeygateProcess): Promise<true> =>
    waitFor(
      () => kg.stdout().includes('"event":"draining"') || undefined,
      5_000,
      () => kg.stdout(),
    );

  it.for(['SIGTERM', 'SIGINT'] as const)('%s with a request in flight: the request completes, then exit 0', async (signal, { expect }) => {
    const kg = serve();
    const { proxy } = await kg.ports();
    const inFlight = fetch(`http://127.0.0.1:${proxy}${slowPath(signal)}`, { headers: AUTH });
    const release = await waitFor(() => held.get(`/v2/p1/servers/slow-${signal}`));
    kg.child.kill(signal);
    await drainingLogged(kg);
    expect(kg.child.exitCode).toBeNull(); // still waiting for the request
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`done /v2/p1/servers/slow-${signal}`);
    expect(await kg.exited).toBe(0);
    expect(kg.stdout()).toContain('"event":"stopped"');
  });

  it('SIGTERM loses no access line: one per request, in order, every field, after the drain', async ({ expect }) => {
    const kg = serve();
    const { proxy } = await kg.ports();
    const ids = Array.from({ length: 60 }, (_, i) => `seq-${i}`);
    for (const id of ids) {
      const res = await fetch(`http://127.0.0.1:${proxy}/compute/v2/p1/servers/${id}`, { headers: { ...AUTH, 'x-request-id': id } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    const lines = kg
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.map((l) => l.request_id)).toEqual(ids);
    for (const line of access) {
      expect(Object.keys(line)).toEqual([
        'level',
        'time',
        'pid',
        'hostname',
        'request_id',
        'mode',
        'method',
        'path',
        'host',
        'client_ip',
        'service',
        'key_id',
        'key_name',
        'user',
        'decision',
        'reason',
        'status',
        'decision_ms',
        'upstream_ms',
        'total_ms',
        'msg',
      ]);
      expect(line).toMatchObject({
        mode: 'proxy',
        method: 'GET',
        service: 'compute',
        key_id: DEMO_KEYS.deploy.id,
        user: 'joe',
        decision: 'allow',
        status: 200,
      });
    }
    // Access lines come before the drain's own lines.
    expect(lines.findIndex((l) => l.event === 'draining')).toBeGreaterThan(lines.indexOf(access.at(-1)!));
  });

  it('/readyz fails at once on SIGTERM; new connections are accepted during shutdown.delay, then refused', async ({ expect }) => {
    const kg = serve((main) => appendTopLevel(main, 'shutdown: { delay: 2s, timeout: 5s }'));
    const { proxy, admin } = await kg.ports();
    expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(200);
    kg.child.kill('SIGTERM');
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 503 || undefined,
      1_000,
      () => 'readyz never failed',
    );
    expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
    // Still inside shutdown.delay: a brand-new connection is served.
    const during = await fetch(`http://127.0.0.1:${proxy}/compute/v2/p1/servers/1`, { headers: { ...AUTH, connection: 'close' } });
    expect(during.status).toBe(200);
    expect(await kg.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${proxy}/compute/v2/p1/servers/1`, { headers: AUTH })).rejects.toThrow();
  });

  it('a request still running at shutdown.timeout is cut off, and the exit is still 0', async ({ expect }) => {
    const kg = serve((main) => appendTopLevel(main, 'shutdown: { timeout: 300ms }'));
    const { proxy } = await kg.ports();
    const inFlight = fetch(`http://127.0.0.1:${proxy}${slowPath('cut')}`, { headers: AUTH })
      .then((r) => r.text())
      .then(
        () => 'completed',
        () => 'cut off',
      );
    await waitFor(() => held.get('/v2/p1/servers/slow-cut'));
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    expect(await inFlight).toBe('cut off');
    expect(kg.stdout()).toContain('"event":"drain_timeout"');
  });

  it('an open WebSocket does not keep the process alive past shutdown.timeout', async ({ expect }) => {
    const kg = serve((main) => appendTopLevel(main, 'shutdown: { timeout: 300ms }'));
    const { proxy } = await kg.ports();
    const ws = new WebSocket(`ws://127.0.0.1:${proxy}/compute/v2/p1/servers/1/console`, { headers: AUTH });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    await closed;
  });

  it('refuses to start on an invalid config: exit 1, the file and line on stderr', async ({ expect }) => {
    const kg = serve((main) => main.replace('region: eu-west-1', 'region: eu-west-1\nbogusField: true'));
    expect(await kg.exited).toBe(1);
    expect(kg.stderr()).toMatch(/cannot start/);
    expect(kg.stderr()).toMatch(/keygate\.yaml:\d+:\d+/);
    expect(kg.stderr()).toContain('bogusField');
    expect(kg.stdout()).not.toContain('"event":"started"');
  });

  it('refuses to start on a config with several errors, reporting each', async ({ expect }) => {
    const kg = serve((main) =>
      main.replace('region: eu-west-1', 'region: eu-west-1\nbogusField: true').replace('connect: 2s', 'connect: soon'),
    );
    expect(await kg.exited).toBe(1);
    expect(kg.stderr()).toContain('bogusField');
    expect(kg.stderr()).toContain('soon');
  });

  it('refuses to start when the proxy port is in use: exit 1, the address on stderr', async ({ expect }) => {
    const busy: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const kg = serve((main) => main.replace('proxy: 127.0.0.1:0', `proxy: 127.0.0.1:${port}`));
      expect(await kg.exited).toBe(1);
      expect(kg.stderr()).toContain(`127.0.0.1:${port}`);
      expect(kg.stderr()).toMatch(/in use/);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
