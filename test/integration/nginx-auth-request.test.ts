import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS, REPO, tempConfig, type TempConfig } from '../helpers/config.js';
import { send } from '../helpers/fronts.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { freePort } from '../helpers/raw.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * A real nginx, with deploy/nginx/keygate.conf included verbatim (only the check port
 * changed), in front of a real upstream, asking a real keygate on loopback. Runs when
 * nginx with the auth_request module is installed (.ci/run installs nginx-light);
 * otherwise every test is reported as skipped with the reason.
 */

const MON = DEMO_KEYS.monitoring;
const ALICE = DEMO_KEYS.aliceAdmin;
const nginx = findNginx();
if (typeof nginx === 'string') console.warn(`nginx-auth-request.test.ts: SKIPPED, ${nginx}`);

describe.skipIf(typeof nginx === 'string')(
  `nginx auth_request in front of keygate${typeof nginx === 'string' ? ` — SKIPPED: ${nginx}` : ''}`,
  () => {
    let upstream: TestUpstream;
    let cfg: TempConfig;
    let kg: RunningKeygate;
    let server: NginxServer;

    beforeAll(async () => {
      upstream = await startUpstream();
      cfg = tempConfig(upstream.origin);
      kg = await startKeygate(cfg.mainFile);
      server = await startNginx((nginx as { path: string }).path, kg.app.port('check'), upstream.origin);
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
      await kg?.close();
      await upstream?.close();
      cfg?.cleanup();
    });

    const get = (path: string, headers: Record<string, string> | string[] = {}, method = 'GET', body?: Buffer): ReturnType<typeof send> =>
      send(server.url, { method, path, headers, ...(body ? { body } : {}) });

    it('forwards an allowed request with the service token and identity, without the client key', async () => {
      const res = await get('/compute/v2/p1/servers/42?q=1', { authorization: `Bearer ${MON.key}`, 'x-request-id': 'nginx-trace-1' });
      expect(res.status).toBe(200);
      const seen = upstream.seen.at(-1)!;
      expect(seen.url).toBe('/v2/p1/servers/42?q=1');
      expect(seen.headers).toMatchObject({
        authorization: `Bearer ${DEMO_TOKENS.compute}`,
        'x-keygate-user': 'joe',
        'x-keygate-key-id': MON.id,
        'x-keygate-key-name': 'monitoring',
      });
      expect(JSON.stringify(seen.rawHeaders)).not.toContain(MON.key.split('_')[2]);
      expect(kg.logs().find((l) => l.mode === 'check' && l.request_id === 'nginx-trace-1')).toMatchObject({
        method: 'GET',
        path: '/compute/v2/p1/servers/42',
        decision: 'allow',
      });
    });

    it('drops X-API-Key and spoofed identity headers', async () => {
      const res = await get('/compute/v2/p1/servers/42', [
        'Host',
        'api.test',
        'X-API-Key',
        MON.key,
        'X-Keygate-User',
        'mallory',
        'X_Keygate_User',
        'mallory',
        'X-Keygate-Key-Id',
        'mallory',
      ]);
      expect(res.status).toBe(200);
      const seen = upstream.seen.at(-1)!;
      expect(seen.headers['x-api-key']).toBeUndefined();
      expect(seen.headers['x-keygate-user']).toBe('joe');
      expect(JSON.stringify(seen.rawHeaders)).not.toContain('mallory');
    });

    it("puts the token in the service's own header and drops the client's Authorization", async () => {
      const res = await get('/identity/v3/users', { authorization: `Bearer ${ALICE.key}`, 'x-service-token': 'forged' });
      expect(res.status).toBe(200);
      const seen = upstream.seen.at(-1)!;
      expect(seen.url).toBe('/identity/v3/users');
      expect(seen.headers['x-service-token']).toBe(DEMO_TOKENS.identity);
      expect(seen.headers.authorization).toBeUndefined();
    });

    it('streams an allowed body to the upstream (keygate never saw it)', async () => {
      const body = Buffer.alloc(512 * 1024, 7);
      const res = await get(
        '/compute/v2/p1/servers',
        { 'x-api-key': DEMO_KEYS.deploy.key, 'content-type': 'application/octet-stream' },
        'POST',
        body,
      );
      expect(res.status).toBe(200);
      expect(upstream.seen.at(-1)!.bodyBytes).toBe(body.length);
    });

    it.each<DenyRow>([
      { what: 'no key', path: '/compute/v2/p1/servers/42', headers: {}, status: 401, reason: 'missing_credentials' },
      {
        what: 'a wrong key',
        path: '/compute/v2/p1/servers/42',
        headers: { 'x-api-key': `${MON.key.slice(0, -1)}x` },
        status: 401,
        reason: 'malformed_credentials',
      },
      {
        what: 'a method outside the key scope',
        path: '/compute/v2/p1/servers',
        headers: { 'x-api-key': MON.key },
        method: 'POST',
        status: 403,
        reason: 'key_scope_denied',
      },
      {
        what: 'the key on another service',
        path: '/identity/v3/users',
        headers: { 'x-api-key': MON.key },
        status: 403,
        reason: 'key_scope_denied',
      },
      {
        what: 'a guardrail',
        path: '/identity/v3/users/u1/credentials/k',
        headers: { 'x-api-key': ALICE.key },
        method: 'PUT',
        status: 403,
        reason: 'guardrail',
      },
      {
        what: 'a path keygate routes nowhere (404 via @keygate_error)',
        path: '/elsewhere/x',
        headers: { 'x-api-key': MON.key },
        status: 404,
        reason: 'no_route',
      },
      {
        what: 'a dot segment nginx would resolve (400 via @keygate_error)',
        path: '/compute/v2/p1/servers/%2e%2e/%2e%2e/p2/servers/1',
        headers: { 'x-api-key': MON.key },
        status: 400,
        reason: 'bad_target',
      },
      {
        what: 'a smuggled X-Forwarded-Uri naming an allowed path',
        path: '/compute/v2/p1/servers',
        headers: { 'x-api-key': MON.key, 'x-forwarded-uri': '/compute/v2/p1/servers/1', 'x-forwarded-method': 'GET' },
        method: 'POST',
        status: 403,
        reason: 'key_scope_denied',
      },
    ])('denies $what ($status) and the upstream never sees it', async ({ path, headers, method, status, reason }) => {
      const before = upstream.seen.length;
      const requestId = `nginx-deny-${reason}-${status}-${before}`;
      const res = await get(path, { ...headers, 'x-request-id': requestId }, method ?? 'GET');
      expect(res.status).toBe(status);
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="keygate"/);
      expect(upstream.seen.length).toBe(before);
      // keygate decided it (nginx's auth subrequest carries the request id), for this reason
      expect(kg.logs().find((l) => l.request_id === requestId)).toMatchObject({ mode: 'check', reason, status });
    });

    it('fails closed (500) when keygate is unreachable', async () => {
      const down = await startNginx((nginx as { path: string }).path, await freePort(), upstream.origin);
      try {
        const before = upstream.seen.length;
        const res = await send(down.url, { path: '/compute/v2/p1/servers/42', headers: { 'x-api-key': MON.key } });
        expect(res.status).toBe(500);
        expect(upstream.seen.length).toBe(before);
      } finally {
        await down.stop();
      }
    });
  },
);

interface DenyRow {
  readonly what: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly method?: string;
  readonly status: number;
  readonly reason: string;
}

// ---- nginx as a child process --------------------------------------------------------

interface NginxServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** nginx's path when it is installed with auth_request; otherwise why the tests skip. */
function findNginx(): { path: string } | string {
  const path = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']
    .map((dir) => join(dir, 'nginx'))
    .find((p) => existsSync(p));
  if (!path) return 'nginx is not installed (apt-get install -y nginx-light; .ci/run does this)';
  const v = spawnSync(path, ['-V'], { encoding: 'utf8' });
  if (!`${v.stdout}${v.stderr}`.includes('--with-http_auth_request_module')) return `${path} lacks the auth_request module`;
  return { path };
}

async function startNginx(binary: string, checkPort: number, upstreamOrigin: string): Promise<NginxServer> {
  const prefix = mkdtempSync(join(tmpdir(), 'keygate-nginx-'));
  chmodSync(prefix, 0o755); // a root master hands sockets and temp dirs to unprivileged workers
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
  const snippet = readFileSync(join(REPO, 'deploy/nginx/keygate.conf'), 'utf8').replace(
    'proxy_pass http://127.0.0.1:9191;',
    `proxy_pass http://127.0.0.1:${checkPort};`,
  );
  if (!snippet.includes(`127.0.0.1:${checkPort};`)) throw new Error('deploy/nginx/keygate.conf no longer proxies to 127.0.0.1:9191');
  writeFileSync(join(prefix, 'keygate.conf'), snippet);
  const port = await freePort();
  writeFileSync(join(prefix, 'nginx.conf'), nginxConf(prefix, port, upstreamOrigin));
  const child = spawn(binary, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = (): string => `${output}${existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : ''}`;
  try {
    await waitFor(
      async () => (child.exitCode === null ? (await accepts(port)) || undefined : Promise.reject(new Error(`nginx exited: ${log()}`))),
      10_000,
      log,
    );
  } catch (e) {
    await stopChild(child, exited);
    rmSync(prefix, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child, exited);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function nginxConf(prefix: string, port: number, upstreamOrigin: string): string {
  return `
worker_processes 1;
pid ${prefix}/nginx.pid;
events { worker_connections 64; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    include ${prefix}/keygate.conf;
    location /compute/ { proxy_pass ${upstreamOrigin}/; }
    location / { proxy_pass ${upstreamOrigin}; }
  }
}
`;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // nginx: fast shutdown
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
