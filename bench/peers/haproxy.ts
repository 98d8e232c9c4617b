import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from '../lib/child.js';
import { freePort, waitReachable } from '../lib/net.js';
import type { ReferencePeer, ReferenceSetup } from './reference.js';

const BEARER = 'Bearer ';

/**
 * Debian's HAProxy (2.6), one thread: the key after `Bearer ` is looked up in a map file
 * (a tree lookup, as nginx's `map` hash); unknown keys get 401; the key's user goes to
 * X-Keygate-User, the service token replaces Authorization, /compute is stripped from the
 * path; keep-alive on both sides and connections to the upstream reused. No access log
 * (HAProxy logs only to syslog; nginx's buffered one costs it a few us).
 */
export async function startHaproxy({ binary, upstreamPort, keys, serviceToken }: ReferenceSetup): Promise<ReferencePeer> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-haproxy-'));
  const mapFile = join(dir, 'keys.map');
  writeFileSync(mapFile, `${keys.map((k) => `${k} joe`).join('\n')}\n`);
  const port = await freePort();
  const conf = `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client 65s
  timeout server 30s
  timeout http-keep-alive 65s
frontend bench
  bind 127.0.0.1:${port}
  acl bearer req.hdr(authorization) -m beg "${BEARER}"
  http-request set-var(txn.user) req.hdr(authorization),bytes(${BEARER.length}),map_str(${mapFile}) if bearer
  http-request deny deny_status 401 unless { var(txn.user) -m found }
  http-request set-header X-Keygate-User %[var(txn.user)]
  http-request set-header Authorization "Bearer ${serviceToken}"
  http-request set-header X-Forwarded-For %[src]
  http-request replace-path /compute(/.*) \\1
  default_backend compute
backend compute
  server upstream 127.0.0.1:${upstreamPort}
`;
  const confFile = join(dir, 'haproxy.cfg');
  writeFileSync(confFile, conf);
  // -db: foreground, no daemon; -W is not used, so there is one process.
  const child = startChild('haproxy', binary, ['-db', '-f', confFile]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReachable(
      url,
      () => child.alive(),
      10_000,
      'haproxy',
      () => child.stderr(),
    );
  } catch (e) {
    await child.stop(500);
    throw e;
  }
  return { child, url, pids: () => [child.pid], stop: () => child.stop(3_000) };
}
