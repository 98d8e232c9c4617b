/**
 * The Redis rate-limit backend against the memory one (and no limit), in one run:
 *   npm run bench:ratelimit [-- --seconds 4 --rounds 3 --rate 200]
 * Three keygates (in this process, same config but for the limit's backend) in front of
 * one upstream; a user limit no run reaches applies to every request. Per round, each
 * gets an open loop at --rate req/s (p50/p99 added vs memory) and a short closed loop
 * (max req/s). Redis round trips per request come from Redis's own INFO commandstats.
 * Needs redis-server (apt-get install redis-server); it runs its own on a free port.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KeygateApp } from '../src/cli/app.js';
import { median } from './lib/stats.js';
import { closedLoop } from './load/autocannon.js';
import { openLoop } from './load/paced.js';
import { REPO } from './peers/keygate.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, rate: { type: 'string' } } });
const seconds = Number(args.seconds ?? 4);
const rounds = Number(args.rounds ?? 3);
const rate = Number(args.rate ?? 200);
const DEPLOY = 'kg_ZzPjRE9uyI9s_jXZNwqV4BSf1h8GNbhUNLv3oiUBr1ZiMIe85CQwr83k195ZU6'; // demo key of joe
const PORT0 = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-rl-'));
  try {
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const variants = {
      none: await keygate(dir, 'none', origin, ''),
      memory: await keygate(dir, 'memory', origin, 'memory'),
      redis: await keygate(dir, 'redis', origin, `redis\n  redis: { url: "redis://127.0.0.1:${redis.port}/0" }`),
    };
    const rows = new Map<string, { p50: number[]; p99: number[]; rps: number[]; requests: number }>(
      Object.keys(variants).map((k) => [k, { p50: [], p99: [], rps: [], requests: 0 }]),
    );
    let scriptCalls = 0;
    for (let round = 0; round < rounds; round++) {
      for (const [name, app] of Object.entries(variants)) {
        const url = `http://127.0.0.1:${app.port('proxy')}/compute/v2/p1/servers/1`;
        const headers = { authorization: `Bearer ${DEPLOY}` };
        const before = name === 'redis' ? await evalCalls(redis.port) : 0;
        const paced = await openLoop({ url, headers, rate, durationS: seconds, expectStatus: 200 });
        const closed = await closedLoop({ url, headers, connections: 32, durationS: Math.max(2, seconds / 2), expectStatus: 200 });
        if (paced.errors || closed.errors)
          throw new Error(`${name}: ${paced.errors + closed.errors} errors (${JSON.stringify({ ...paced.statuses, ...closed.statuses })})`);
        const row = rows.get(name)!;
        row.p50.push(paced.p50);
        row.p99.push(paced.p99);
        row.rps.push(closed.rps);
        if (name === 'redis') {
          scriptCalls += (await evalCalls(redis.port)) - before;
          row.requests += paced.requests + closed.requests;
        }
      }
    }
    const mem = rows.get('memory')!;
    process.stdout.write(`\nrate-limit backends: ${rounds} rounds, open loop ${rate} req/s for ${seconds} s, closed loop 32 connections\n`);
    process.stdout.write('variant   p50 ms  p99 ms  p99 added vs memory  max req/s\n');
    for (const [name, r] of rows) {
      const added = median(r.p99) - median(mem.p99);
      process.stdout.write(
        `${name.padEnd(8)} ${median(r.p50).toFixed(3).padStart(7)} ${median(r.p99).toFixed(3).padStart(7)} ${(name === 'memory' ? '' : `${added >= 0 ? '+' : ''}${added.toFixed(3)} ms`).padStart(20)} ${Math.round(median(r.rps)).toString().padStart(10)}\n`,
      );
    }
    const redisRow = rows.get('redis')!;
    process.stdout.write(
      `Redis round trips per request: ${(scriptCalls / redisRow.requests).toFixed(3)} (${scriptCalls} script calls for ${redisRow.requests} requests)\n`,
    );
    for (const app of Object.values(variants)) await app.shutdown('bench');
  } finally {
    upstream.close();
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The example config, joe limited to a bucket no run empties, the limit's backend per variant. */
async function keygate(root: string, name: string, origin: string, backend: string): Promise<KeygateApp> {
  const dir = join(root, name);
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  const main = readFileSync(join(dir, 'keygate.yaml'), 'utf8').replaceAll('http://127.0.0.1:3000', origin);
  writeFileSync(join(dir, 'keygate.yaml'), `${main}\nlog: { access: false }\n${backend ? `rateLimiting:\n  backend: ${backend}\n` : ''}`);
  if (backend) {
    const policy = readFileSync(join(dir, 'policy.yaml'), 'utf8')
      .replace(/^rateLimits:\n/m, 'rateLimits:\n  bench: { rate: 10000000/s, burst: 10000000 }\n')
      .replace(/^( {2}joe:\n {4}roles: \[[^\]]*\]\n)/m, '$1    rateLimit: bench\n');
    writeFileSync(join(dir, 'policy.yaml'), policy);
  }
  const app = await KeygateApp.start({
    configFile: join(dir, 'keygate.yaml'),
    watch: false,
    logDestination: process.stderr,
    listen: { proxy: PORT0, admin: PORT0, check: PORT0, grpc: PORT0 },
  });
  return app;
}

function startUpstream(): Promise<Server> {
  const body = Buffer.from('{"id":"srv-1"}');
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body),
  );
  return new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server)));
}

async function startRedis(): Promise<{ port: number; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  while ((await redisCommand(port, 'PING').catch(() => '')) !== '+PONG\r\n') {
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stop: () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function redisCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.on('data', (c: Buffer) => {
      reply += c.toString();
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.write(`${line}\r\n`);
  });
}

async function evalCalls(port: number): Promise<number> {
  const stats = await redisCommand(port, 'INFO commandstats');
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

await main();
