/**
 * gRPC ext_authz vs the HTTP decision API: decisions per second and keygate's CPU per
 * check, the same allowed check both ways (Envoy's view of GET /compute/v2/p1/servers/s1
 * with a generated restricted key), against one keygate child process. The two load
 * kinds alternate in short slices so both see the same machine; keygate's CPU comes from
 * /proc/PID/stat (utime + stime: monotonic, so threads that come and go cannot skew it). Also times the protobuf codec per call: protobufjs (what
 * @grpc/proto-loader uses) against @bufbuild/protobuf on the same descriptors.
 *
 *   npm run bench:grpc             # 5 rounds of 3 s slices
 *   npm run bench:grpc -- --quick  # 2 rounds of 1 s slices
 */
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildIfStale } from './lib/build.js';
import { tickMicros } from './lib/proc.js';
import { median } from './lib/stats.js';
import { generateKeys } from './lib/keys.js';
import { closedLoop } from './load/autocannon.js';
import { prepareConfig, REPO, startKeygate } from './peers/keygate.js';
import { protoCodecs } from './micro/protoCodecs.js';

const args = parseArgs({ options: { quick: { type: 'boolean', default: false } } }).values;
const quick = args.quick ?? false;
const rounds = quick ? 2 : 5;
const sliceS = quick ? 1 : 3;
const CONCURRENCY = 16;
const PATH = '/compute/v2/p1/servers/s1';

if (buildIfStale(REPO)) console.error('dist/ was older than src/: rebuilt');
const keys = generateKeys(1000);
const key = keys.all[0];
const { dir, mainFile } = prepareConfig({ upstream: 'http://127.0.0.1:9', keysYaml: keys.yaml(), accessLog: true });
const kg = await startKeygate('keygate', mainFile, dir, { timeoutMs: 60_000 });
const grpcAddress = kg.grpc;
if (!kg.check || !grpcAddress) throw new Error('bench: the example config must open listen.check and listen.grpc');

type Slice = { decisions: number; cpuUs: number; seconds: number; errors: number };

async function httpSlice(): Promise<Slice> {
  const cpu = tickMicros(kg.child.proc.pid!)!;
  const r = await closedLoop({
    url: `${kg.check}${PATH}`,
    headers: { authorization: `Bearer ${key}` },
    connections: CONCURRENCY,
    durationS: sliceS,
    expectStatus: 200,
  });
  return { decisions: r.requests, cpuUs: tickMicros(kg.child.proc.pid!)! - cpu, seconds: r.durationS, errors: r.errors };
}

const pkg = loadSync(['envoy/service/auth/v3/external_auth.proto'], {
  includeDirs: [join(REPO, 'proto')],
  keepCase: true,
  longs: String,
  enums: Number,
});
const Authorization = (
  loadPackageDefinition(pkg) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => Client } } } };
  }
).envoy.service.auth.v3.Authorization;
// Several channels, as Envoy's workers each hold one; calls multiplexed on each.
const clients = Array.from(
  { length: 4 },
  () =>
    new Authorization(grpcAddress, credentials.createInsecure()) as Client & {
      Check(req: object, meta: Metadata, cb: (e: ServiceError | null, r: { status?: { code?: number } }) => void): void;
    },
);
const checkRequest = {
  attributes: {
    source: { address: { socket_address: { address: '10.0.0.7', port_value: 51234 } } },
    request: {
      http: {
        method: 'GET',
        path: PATH,
        host: 'localhost',
        scheme: 'http',
        protocol: 'HTTP/1.1',
        headers: {
          ':authority': 'localhost',
          ':method': 'GET',
          ':path': PATH,
          authorization: `Bearer ${key}`,
          'user-agent': 'bench',
          accept: '*/*',
        },
      },
    },
  },
};

async function grpcSlice(): Promise<Slice> {
  const cpu = tickMicros(kg.child.proc.pid!)!;
  const started = performance.now();
  const until = started + sliceS * 1000;
  let decisions = 0;
  let errors = 0;
  const worker = async (c: number): Promise<void> => {
    const client = clients[c % clients.length];
    while (performance.now() < until) {
      await new Promise<void>((resolve) =>
        client.Check(checkRequest, new Metadata(), (e, r) => {
          if (e || r.status?.code !== 0) errors++;
          else decisions++;
          resolve();
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, c) => worker(c)));
  return { decisions, cpuUs: tickMicros(kg.child.proc.pid!)! - cpu, seconds: (performance.now() - started) / 1000, errors };
}

const results = { http: [] as Slice[], grpc: [] as Slice[] };
try {
  await httpSlice(); // warm both paths
  await grpcSlice();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['http', 'grpc'] as const) : (['grpc', 'http'] as const);
    for (const kind of order) results[kind].push(await (kind === 'http' ? httpSlice() : grpcSlice()));
  }
} finally {
  for (const c of clients) c.close();
  await kg.stop();
}

const rate = (s: Slice[]): number => median(s.map((x) => x.decisions / x.seconds));
const cpuPer = (s: Slice[]): number => median(s.map((x) => x.cpuUs / Math.max(1, x.decisions)));
const errorsOf = (s: Slice[]): number => s.reduce((n, x) => n + x.errors, 0);
const lines = [
  `keygate decisions, ${rounds} rounds of ${sliceS} s slices, ${CONCURRENCY} concurrent calls (medians; a loaded shared machine: compare ratios)`,
  '| entry point | decisions/s | keygate CPU µs per check | errors |',
  '|---|---|---|---|',
  `| HTTP decision API (listen.check, Envoy dialect) | ${rate(results.http).toFixed(0)} | ${cpuPer(results.http).toFixed(1)} | ${errorsOf(results.http)} |`,
  `| gRPC ext_authz (listen.grpc) | ${rate(results.grpc).toFixed(0)} | ${cpuPer(results.grpc).toFixed(1)} | ${errorsOf(results.grpc)} |`,
  `gRPC / HTTP: ${(rate(results.grpc) / rate(results.http)).toFixed(2)}x decisions/s, ${(cpuPer(results.grpc) / cpuPer(results.http)).toFixed(2)}x CPU per check`,
  '',
  ...(await protoCodecs(quick)),
];
console.log(lines.join('\n'));
