import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids } from '../lib/proc.js';
import { sleep, startChild } from '../lib/child.js';
import { freePort, reachable } from '../lib/net.js';
import type { ReferencePeer, ReferenceSetup } from './reference.js';

/**
 * The reference: Debian's nginx with one worker, a `map` from the presented
 * Authorization header to the key's user (unknown keys get 401), and the service token
 * set with proxy_set_header, over a keep-alive upstream pool. Runs in the foreground
 * (daemon off) with its prefix in a temp dir.
 */
export async function startNginx({ binary, upstreamPort, keys, serviceToken }: ReferenceSetup): Promise<ReferencePeer> {
  const prefix = mkdtempSync(join(tmpdir(), 'keygate-bench-nginx-'));
  chmodSync(prefix, 0o755);
  const temp = join(prefix, 'tmp');
  mkdirSync(temp, { mode: 0o777 });
  chmodSync(temp, 0o777);
  const port = await freePort();
  const mapLines = keys.map((k) => `    "Bearer ${k}" joe;`).join('\n');
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const conf = `${user}worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${prefix}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  client_max_body_size 0;
  map_hash_max_size ${Math.max(2048, keys.length * 2)};
  map_hash_bucket_size 128;
  map $http_authorization $kg_user {
    default "";
${mapLines}
  }
  upstream compute { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location /compute/ {
      if ($kg_user = "") { return 401; }
      proxy_pass http://compute/;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${serviceToken}";
      proxy_set_header X-Keygate-User $kg_user;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
  const confFile = join(prefix, 'nginx.conf');
  writeFileSync(confFile, conf);
  const child = startChild('nginx', binary, ['-p', prefix, '-c', confFile, '-e', join(prefix, 'error.log')]);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!child.alive()) throw new Error(`nginx exited before it was ready: ${child.stderr()}`);
    if (childPids(child.pid).length > 0 && (await reachable(url))) break;
    if (Date.now() > deadline) {
      await child.stop(500);
      throw new Error(`nginx did not start within 10 s: ${child.stderr()}`);
    }
    await sleep(50);
  }
  return {
    child,
    url,
    pids: () => [child.pid, ...childPids(child.pid)],
    // SIGQUIT is nginx's graceful stop; child.stop escalates to SIGKILL if needed.
    stop: async () => {
      if (child.alive()) child.proc.kill('SIGQUIT');
      await child.stop(3_000);
    },
  };
}
