import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from '../lib/child.js';
import { freePort, waitReachable } from '../lib/net.js';
import type { ReferencePeer, ReferenceSetup } from './reference.js';

/**
 * Debian's Caddy (2.6, Go) with GOMAXPROCS=1, the fair stand-in for the Go proxies users
 * compare keygate with (Oathkeeper, oauth2-proxy): a header matcher lists the allowed
 * `Authorization` values, anything else gets 401; `reverse_proxy` sets the service token
 * and X-Keygate-User after /compute is stripped; keep-alive on both sides. No access log
 * (Caddy's default).
 */
export async function startCaddy({ binary, upstreamPort, keys, serviceToken }: ReferenceSetup): Promise<ReferencePeer> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-caddy-'));
  const port = await freePort();
  const config = {
    admin: { disabled: true },
    apps: {
      http: {
        servers: {
          bench: {
            listen: [`127.0.0.1:${port}`],
            automatic_https: { disable: true },
            routes: [
              {
                match: [{ path: ['/compute/*'], header: { Authorization: keys.map((k) => `Bearer ${k}`) } }],
                handle: [
                  { handler: 'rewrite', strip_path_prefix: '/compute' },
                  {
                    handler: 'reverse_proxy',
                    upstreams: [{ dial: `127.0.0.1:${upstreamPort}` }],
                    headers: { request: { set: { Authorization: [`Bearer ${serviceToken}`], 'X-Keygate-User': ['joe'] } } },
                  },
                ],
                terminal: true,
              },
              { handle: [{ handler: 'static_response', status_code: 401 }] },
            ],
          },
        },
      },
    },
  };
  const confFile = join(dir, 'caddy.json');
  writeFileSync(confFile, JSON.stringify(config));
  const child = startChild('caddy', binary, ['run', '--config', confFile], {
    env: { ...process.env, GOMAXPROCS: '1', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReachable(
      url,
      () => child.alive(),
      15_000,
      'caddy',
      () => child.stderr(),
    );
  } catch (e) {
    await child.stop(500);
    throw e;
  }
  return { child, url, pids: () => [child.pid], stop: () => child.stop(3_000) };
}
