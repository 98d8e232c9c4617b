import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, waitFor, type KeygateProcess } from '../helpers/keygate.js';
import { freePort } from '../helpers/raw.js';

/**
 * `keygate demo`: the bundled echo API on the first upstream's address with keygate in
 * front, driven the way the README's curl lines drive it.
 */

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  bodyBytes: number;
}

describe('keygate demo', () => {
  let cfg: TempConfig;
  let kg: KeygateProcess;
  let proxy: string;
  let echoPort: number;
  beforeAll(async () => {
    echoPort = await freePort();
    cfg = tempConfig(`http://127.0.0.1:${echoPort}`);
    kg = spawnKeygate(['demo', '-c', cfg.mainFile]);
    proxy = `http://127.0.0.1:${(await kg.ports()).proxy}`;
    await waitFor(
      () => kg.stderr().includes('curl') || undefined,
      5_000,
      () => kg.stderr(),
    );
  });
  afterAll(async () => {
    if (kg?.child.exitCode === null) kg.child.kill('SIGKILL');
    cfg?.cleanup();
  });

  it('prints ready-to-paste curl lines for this proxy', () => {
    expect(kg.stderr()).toContain(`${proxy}/compute/v2/p1/servers/42`);
    expect(kg.stderr()).toContain(DEMO_KEYS.monitoring.key);
  });

  type Row = {
    desc: string;
    method: string;
    path: string;
    headers: Record<string, string>;
    status: number;
    upstreamUrl?: string;
    reason?: string;
  };
  const rows: Row[] = [
    {
      desc: 'monitoring key reads a server',
      method: 'GET',
      path: '/compute/v2/p1/servers/42',
      headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` },
      status: 200,
      upstreamUrl: '/v2/p1/servers/42',
    },
    {
      desc: 'deploy key creates a server',
      method: 'POST',
      path: '/compute/v2/p1/servers',
      headers: { 'x-api-key': DEMO_KEYS.deploy.key },
      status: 200,
      upstreamUrl: '/v2/p1/servers',
    },
    {
      desc: 'alice-admin reads users from this host',
      method: 'GET',
      path: '/identity/v3/users',
      headers: { authorization: `Bearer ${DEMO_KEYS.aliceAdmin.key}` },
      status: 200,
      upstreamUrl: '/identity/v3/users',
    },
    {
      desc: 'monitoring key may not write',
      method: 'POST',
      path: '/compute/v2/p1/servers',
      headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` },
      status: 403,
      reason: 'key_scope_denied',
    },
    {
      desc: 'deploy key never deletes',
      method: 'DELETE',
      path: '/compute/v2/p1/servers/42',
      headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` },
      status: 403,
      reason: 'key_deny_rule',
    },
    {
      desc: 'guardrail on credential management',
      method: 'POST',
      path: '/identity/v3/users/u1/credentials/x',
      headers: { authorization: `Bearer ${DEMO_KEYS.aliceAdmin.key}` },
      status: 403,
      reason: 'guardrail',
    },
    { desc: 'no key', method: 'GET', path: '/compute/v2/p1/servers/42', headers: {}, status: 401, reason: 'missing_credentials' },
    {
      desc: 'a made-up key',
      method: 'GET',
      path: '/compute/v2/p1/servers/42',
      headers: { authorization: 'Bearer not-a-real-key' },
      status: 401,
      reason: 'invalid_key',
    },
  ];

  it.each(rows)('$desc → $status', async ({ method, path, headers, status, upstreamUrl, reason }) => {
    const res = await fetch(`${proxy}${path}`, { method, headers });
    expect(res.status).toBe(status);
    if (status !== 200) {
      expect(await res.json()).toMatchObject({ status, reason });
      return;
    }
    const echo = (await res.json()) as Echo;
    expect(echo.url).toBe(upstreamUrl);
    expect(echo.method).toBe(method);
    const token = path.startsWith('/identity') ? echo.headers['x-service-token'] : echo.headers.authorization;
    expect(token).toBe(path.startsWith('/identity') ? DEMO_TOKENS.identity : `Bearer ${DEMO_TOKENS.compute}`);
    expect(echo.headers['x-keygate-user']).toBeDefined();
    expect(JSON.stringify(echo)).not.toMatch(/kg_[A-Za-z0-9]{12}_/);
  });

  it('SIGTERM stops keygate and the echo API, exit 0', async () => {
    kg.child.kill('SIGTERM');
    expect(await kg.exited).toBe(0);
    // The echo API's port is free again.
    const s = createServer();
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen({ host: '127.0.0.1', port: echoPort }, resolve));
    await new Promise((resolve) => s.close(resolve));
  });
});
