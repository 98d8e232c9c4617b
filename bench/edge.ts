/**
 * TLS, HTTP/2 and gRPC at keygate's edge, each against its own baseline in the same run:
 *
 *   npm run bench:edge            # about 30 s: every row, 3 s per measurement
 *   npm run bench:edge -- --seconds 10
 *
 * Rows (keygate as a child process, so its CPU is its own; the clients run here):
 *   - TLS handshakes: a new connection per request, HTTPS vs plain HTTP (req/s, keygate CPU µs per request);
 *   - TLS keep-alive: CPU per request over kept connections, HTTPS vs plain;
 *   - h2 vs HTTP/1.1: small GETs on the TLS listener, one h2 connection with C streams vs C HTTP/1.1 connections;
 *   - gRPC unary: calls/s through keygate (TLS in front, h2c behind) vs straight to the gRPC server.
 * Only ratios from one run mean anything on a shared machine (bench/README.md).
 */
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:http';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { makeCertificate } from '../test/helpers/certs.js';
import { DEMO_KEYS } from '../test/helpers/config.js';
import { buildIfStale } from './lib/build.js';
import { generateKeys } from './lib/keys.js';
import { tickMicros } from './lib/proc.js';
import { ratio, round } from './lib/stats.js';
import { prepareConfig, REPO, startKeygate, type KeygatePeer } from './peers/keygate.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
const C = Number(values.concurrency);
const PATH = '/compute/v2/p1/servers/1';

interface Measured {
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
  /** keygate's CPU per request, µs (utime + stime: it counts threads that have exited too). */
  readonly cpuMicros: number;
}

/** Runs `c` loops of `one()` for SECONDS, counting answers and keygate's CPU. */
async function measure(pid: number, c: number, one: () => Promise<boolean>): Promise<Measured> {
  let requests = 0;
  let errors = 0;
  const cpuBefore = tickMicros(pid) ?? 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < deadline) {
        const ok = await one().catch(() => false);
        if (ok) requests++;
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = (tickMicros(pid) ?? 0) - cpuBefore;
  return { requests, errors, perSecond: round(requests / seconds, 0), cpuMicros: round(cpu / Math.max(1, requests), 0) };
}

function once(
  send: (opts: RequestOptions & { ca?: string }, cb: (res: IncomingMessage) => void) => ClientRequest,
  opts: RequestOptions & { ca?: string },
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = send(opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', reject);
    req.end();
  });
}

const bytes = (b: Buffer): Buffer => b;
const UNARY: grpc.MethodDefinition<Buffer, Buffer> = {
  path: '/bench.Echo/Unary',
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
};

async function main(): Promise<void> {
  buildIfStale(REPO);
  const pair = makeCertificate({ cn: 'bench' });
  const upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const grpcServer = new grpc.Server();
  grpcServer.addService(
    { Unary: UNARY },
    { Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, call.request) },
  );
  const grpcPort = await new Promise<number>((r, j) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
  );
  // The demo key `deploy` (joe, inherit): compute reads, and the bench's gRPC method below.
  const auth = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
  const peers: KeygatePeer[] = [];
  try {
    const start = async (name: string, tls: boolean): Promise<KeygatePeer> => {
      const cfg = prepareConfig({
        upstream: origin,
        keysYaml: generateKeys(0).yaml(),
        accessLog: false,
        editMain: (main) => {
          const withEcho = main.replace(
            '\nservices:\n',
            `\nservices:\n  - name: echo\n    route: { pathPrefix: /bench.Echo }\n    upstream: http://127.0.0.1:${grpcPort}\n    protocol: grpc\n`,
          );
          if (!tls) return withEcho;
          return withEcho.replace(/^(\s+proxy): (127\.0\.0\.1:\d+)/m, '$1: { address: $2, tls: { cert: ./bench.crt, key: ./bench.key } }');
        },
        editPolicy: (policy) =>
          policy
            .replace('roles:\n', 'roles:\n  grpc-bench:\n    - { service: echo, path: /bench.Echo/Unary }\n')
            .replace('roles: [compute-admin, reader]', 'roles: [compute-admin, reader, grpc-bench]'),
      });
      writeFileSync(join(cfg.dir, 'bench.crt'), pair.cert);
      writeFileSync(join(cfg.dir, 'bench.key'), pair.key);
      const peer = await startKeygate(name, cfg.mainFile, cfg.dir, { timeoutMs: 30_000 });
      peers.push(peer);
      return peer;
    };
    const plain = await start('keygate plain', false);
    const secure = await start('keygate tls', true);
    const plainUrl = new URL(plain.proxy);
    const tlsUrl = new URL(secure.proxy.replace('http:', 'https:'));
    const plainPid = plain.child.proc.pid!;
    const tlsPid = secure.child.proc.pid!;
    const base = (u: URL): RequestOptions => ({ host: u.hostname, port: u.port, path: PATH, headers: auth });

    const rows: Record<string, unknown>[] = [];
    const row = (name: string, a: Measured, b: Measured, aName: string, bName: string): void => {
      rows.push({
        row: name,
        [aName]: a,
        [bName]: b,
        'req/s ratio': round(ratio(a.perSecond, b.perSecond), 2),
        'cpu/req ratio': round(ratio(a.cpuMicros, b.cpuMicros), 2),
      });
    };

    // New connection per request: the handshake's cost.
    const handshakeTls = await measure(tlsPid, C, () => once(httpsRequest, { ...base(tlsUrl), ca: pair.cert, agent: false }));
    const handshakePlain = await measure(plainPid, C, () => once(httpRequest, { ...base(plainUrl), agent: false }));
    row('new connection per request', handshakeTls, handshakePlain, 'https', 'http');

    // Kept connections: TLS's cost per request once the handshake is paid.
    const tlsPool = new Pool(tlsUrl.origin, { connections: C, connect: { ca: pair.cert } });
    const plainPool = new Pool(plainUrl.origin, { connections: C });
    const viaPool = (pool: Pool) => async (): Promise<boolean> => {
      const res = await pool.request({ path: PATH, method: 'GET', headers: auth });
      await res.body.dump();
      return res.statusCode === 200;
    };
    const keptTls = await measure(tlsPid, C, viaPool(tlsPool));
    const keptPlain = await measure(plainPid, C, viaPool(plainPool));
    row('kept connections (HTTP/1.1)', keptTls, keptPlain, 'https', 'http');

    // h2: one connection, C streams at once, against C HTTP/1.1 connections, both over TLS.
    const session = http2Connect(tlsUrl.origin, { ca: pair.cert });
    const h2Get = (): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const s = session.request({ ':path': PATH, ...auth });
        let status = 0;
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', () => undefined);
        s.on('end', () => resolve(status === 200));
        s.on('error', reject);
      });
    const h2 = await measure(tlsPid, C, h2Get);
    const h1 = await measure(tlsPid, C, viaPool(tlsPool));
    row('small GET over TLS', h2, h1, 'h2', 'http/1.1');
    session.close();
    await tlsPool.close();
    await plainPool.close();

    // gRPC unary: through keygate (TLS + h2c upstream) against straight to the server (h2c).
    const Client = grpc.makeGenericClientConstructor({ Unary: UNARY }, 'Echo');
    const through = new Client(`${tlsUrl.hostname}:${tlsUrl.port}`, grpc.credentials.createSsl(Buffer.from(pair.cert)));
    const direct = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', auth.authorization);
    const call = (client: grpc.Client) => (): Promise<boolean> =>
      new Promise((resolve) =>
        client.makeUnaryRequest(UNARY.path, bytes, bytes, Buffer.from('ping'), metadata, (err) => resolve(err === null)),
      );
    const grpcThrough = await measure(tlsPid, C, call(through));
    const grpcDirect = await measure(tlsPid, C, call(direct));
    row('gRPC unary calls', grpcThrough, grpcDirect, 'through keygate', 'direct');
    through.close();
    direct.close();

    console.log(`bench:edge — ${SECONDS}s per measurement, concurrency ${C}; ratios are the numbers to read\n`);
    for (const r of rows) {
      const [a, b] = Object.keys(r).slice(1, 3);
      const ma = r[a] as Measured;
      const mb = r[b] as Measured;
      console.log(
        `${String(r.row).padEnd(30)} ${a}: ${ma.perSecond} req/s, ${ma.cpuMicros} µs CPU/req${ma.errors ? `, ${ma.errors} errors` : ''}` +
          ` | ${b}: ${mb.perSecond} req/s, ${mb.cpuMicros} µs CPU/req${mb.errors ? `, ${mb.errors} errors` : ''}` +
          ` | req/s ×${String(r['req/s ratio'])}, CPU/req ×${String(r['cpu/req ratio'])}`,
      );
    }
    console.log('\n(gRPC "direct" CPU is keygate idling: read the req/s ratio.)');
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
    grpcServer.forceShutdown();
    upstream.close();
  }
}

await main();
