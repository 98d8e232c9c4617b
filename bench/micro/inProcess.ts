/**
 * In-process stage costs: each per-request stage's own work, timed in a loop on the
 * bench's snapshot (the example config with the generated keys), in one process.
 *
 * Why beside the end-to-end table: there, a stage is the CPU difference between two
 * keygate processes under wrk, and on a shared 2-core machine that difference swings by
 * ±100 µs from round to round, so a 1–5 µs budget can be neither met nor missed there.
 * Here each stage is timed alone, in CPU time (process.cpuUsage, so time the process
 * spends descheduled does not count), median of several batches: stable to a fraction
 * of a µs. A budget is held to this number; the end-to-end row shows nothing else grew.
 *
 * To add a row: append a MicroStage to MICRO_STAGES (`stage` = the name of its row in
 * scenarios/stages.ts when it has one, `budgetUs` = the budget). `prepare` gets
 * the bench environment and returns one request's worth of the stage's work: exactly
 * what the request path adds for it, nothing the path does anyway.
 */
import { openSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Snapshot } from '../../src/config/snapshot.js';
import type { InboundRequest } from '../../src/proxy/access.js';
import type { RequestRecord } from '../../src/observability/requestRecord.js';
import { median } from '../lib/stats.js';
import { prepareConfig, REPO } from '../peers/keygate.js';
import { PATHS } from '../scenarios/context.js';
import { limitJoe, shadowOfItself } from '../scenarios/stages.js';

/**
 * The compiled modules keygate runs (dist/, built by the bench), typed by their sources:
 * tsx's transform of src/ adds helpers (`__name`) that production code does not run.
 */
const dist = <T>(path: string): Promise<T> => import(pathToFileURL(join(REPO, 'dist', path)).href) as Promise<T>;

/** Loaded when the stages run, after the bench has rebuilt a stale dist/. */
async function loadModules() {
  return {
    ...(await dist<typeof import('../../src/assertion/keyRing.js')>('assertion/keyRing.js')),
    ...(await dist<typeof import('../../src/assertion/signer.js')>('assertion/signer.js')),
    ...(await dist<typeof import('../../src/auth/credentials.js')>('auth/credentials.js')),
    ...(await dist<typeof import('../../src/auth/verifier.js')>('auth/verifier.js')),
    ...(await dist<typeof import('../../src/config/load.js')>('config/load.js')),
    ...(await dist<typeof import('../../src/observability/accessLog.js')>('observability/accessLog.js')),
    ...(await dist<typeof import('../../src/observability/logSink.js')>('observability/logSink.js')),
    ...(await dist<typeof import('../../src/observability/metrics.js')>('observability/metrics.js')),
    ...(await dist<typeof import('../../src/observability/requestRecord.js')>('observability/requestRecord.js')),
    ...(await dist<typeof import('../../src/proxy/access.js')>('proxy/access.js')),
    ...(await dist<typeof import('../../src/proxy/credentialQuery.js')>('proxy/credentialQuery.js')),
    ...(await dist<typeof import('../../src/proxy/http2Shape.js')>('proxy/http2Shape.js')),
    ...(await dist<typeof import('../../src/proxy/rateLimitHeaders.js')>('proxy/rateLimitHeaders.js')),
    ...(await dist<typeof import('../../src/proxy/shadow.js')>('proxy/shadow.js')),
    ...(await dist<typeof import('../../src/ratelimit/limiter.js')>('ratelimit/limiter.js')),
    ...(await dist<typeof import('../../src/usage/recorder.js')>('usage/recorder.js')),
  };
}

/** keygate's compiled modules, as the stages use them. */
export type KeygateModules = Awaited<ReturnType<typeof loadModules>>;

export interface MicroEnv {
  /** keygate's modules from dist/: build what a stage times from these, not from src/. */
  readonly m: KeygateModules;
  /** The bench config (example + generated keys), as every keygate variant loads it. */
  readonly snapshot: Snapshot;
  /** The same with joe (the bench keys' user) under a rate limit no run reaches. */
  readonly limitedSnapshot: Snapshot;
  /** The same with a shadow candidate naming the live policy and keys files again (always agreeing). */
  readonly shadowSnapshot: Snapshot;
  /** An allowed bench key, and its id. */
  readonly key: string;
  readonly keyId: string;
  /** The small GET of the stage table as the proxy's opening sees it, carrying `key`. */
  inbound(key?: string): InboundRequest;
  /** A finished record of that request, as the observer gets it. */
  record(): RequestRecord;
}

/** One request's worth of a stage's work; a returned promise is awaited. */
export type MicroOp = () => unknown;

export interface MicroStage {
  readonly stage: string;
  readonly budgetUs?: number;
  prepare(env: MicroEnv): MicroOp | Promise<MicroOp>;
}

export const MICRO_STAGES: readonly MicroStage[] = [
  {
    // Steps 3-7 for a known key at a known destination: the pure rules (bench:policy's "decision").
    stage: 'decision',
    budgetUs: 3,
    prepare: (env) => {
      const dest = env.m.resolveDestination(env.snapshot, 'localhost', env.inbound().target);
      const key = env.snapshot.keys.byId.get(env.keyId);
      if ('allow' in dest || !key) throw new Error('bench micro: the bench request has no destination or key');
      return () => env.m.decideFor(env.snapshot, key, dest, 'GET', '127.0.0.1', Date.now(), env.snapshot.region);
    },
  },
  {
    // The whole opening: path safety, route, request meaning, credential, key lookup + sha256, rules, limits.
    stage: 'opening (checkAccess whole)',
    prepare: (env) => {
      const guards = { verifier: new env.m.KeyVerifier(), limiter: new env.m.RateLimiter(undefined) };
      const req = env.inbound();
      return () => env.m.checkAccess(env.snapshot, guards, req, Date.now());
    },
  },
  {
    // What a shadow candidate adds to an allowed request: the key found again in the candidate's
    // keys and steps 3-7 decided again by its policy (agreeing, so nothing is recorded).
    stage: 'shadow decision (candidate policy + keys)',
    budgetUs: 3,
    prepare: (env) => {
      const s = env.shadowSnapshot;
      const dest = env.m.resolveDestination(s, 'localhost', env.inbound().target);
      const key = s.keys.byId.get(env.keyId);
      if ('allow' in dest || !key || !s.shadow?.keys)
        throw new Error('bench micro: the shadow snapshot has no destination, key or candidate');
      const asked = env.m.requestFor(dest, 'GET', '127.0.0.1', Date.now(), s.region);
      const live = env.m.decideFor(s, key, dest, 'GET', '127.0.0.1', Date.now(), s.region);
      if (!live.allow) throw new Error('bench micro: the bench request must be allowed');
      return () => {
        if (env.m.judgeShadow(s, key, asked, [], live) !== undefined) throw new Error('bench micro: the candidate must agree');
      };
    },
  },
  {
    stage: 'metrics',
    budgetUs: 2,
    prepare: (env) => {
      const metrics = new env.m.Metrics({ defaultMetrics: false, isKnownKey: () => true });
      const record = env.record();
      return () => metrics.record(record);
    },
  },
  {
    // The line itself (its write: the next row).
    stage: 'access log (line)',
    budgetUs: 5,
    prepare: (env) => {
      const log = new env.m.AccessLog({ writeBatched: () => undefined });
      const record = env.record();
      let now = Date.now();
      return () => log.line(record, now++);
    },
  },
  {
    // The line and its batched write (16 KiB batches, each one write(2), here to /dev/null):
    // what keygate's access log costs per request, sink included.
    stage: 'access log (line + batched write)',
    budgetUs: 5,
    prepare: (env) => {
      const log = new env.m.AccessLog(env.m.fdSink(openSync('/dev/null', 'w')));
      const record = env.record();
      return () => log.write(record);
    },
  },
  {
    // What a limited request adds: its buckets taken, the verdict and the RateLimit fields.
    stage: 'rate limit (memory)',
    budgetUs: 3,
    prepare: (env) => {
      const limiter = new env.m.RateLimiter(undefined);
      const s = env.limitedSnapshot;
      const user = s.users.get('joe');
      if (!user?.rateLimits?.length) throw new Error('bench micro: joe has no rate limit in the limited snapshot');
      return () => {
        const verdict = limiter.check(s.rateLimits, user, env.keyId, 'compute', Date.now());
        if (verdict instanceof Promise || !verdict?.allowed)
          throw new Error('bench micro: the memory limiter must answer at once, allowed');
        return env.m.allowedLimitHeaders(verdict);
      };
    },
  },
  {
    // What an allowed request to a service with `assertion` adds: the cached token's lookup
    // (signing happens once per key and half-ttl, ~0.2 ms, amortised to nothing here).
    stage: 'identity assertion (cached JWT)',
    budgetUs: 3,
    prepare: async (env) => {
      const settings = env.snapshot.services.find((s) => s.name === 'compute')?.assertion;
      if (!settings) throw new Error('bench micro: the example config has no assertion on compute');
      const ring = new env.m.AssertionKeyRing();
      ring.update(env.snapshot.services, Date.now());
      const signer = new env.m.AssertionSigner(ring);
      const who = { user: 'joe', id: env.keyId, name: 'bench-1' };
      await signer.tokenFor(settings, who, env.snapshot.region, Date.now());
      return () => {
        const token = signer.tokenFor(settings, who, env.snapshot.region, Date.now());
        if (typeof token !== 'string') throw new Error('bench micro: the assertion must come from the cache');
        return { header: settings.header, token };
      };
    },
  },
  {
    // Every authenticated request looks its key up among the client-certificate bindings (most keys have none).
    stage: 'client-certificate binding lookup',
    budgetUs: 0.5,
    prepare: (env) => () => env.snapshot.clientCertBindings.get(env.keyId),
  },
  {
    // Only requests that came over HTTP/2: pseudo-headers out, :authority as Host, the header maps rebuilt.
    stage: 'HTTP/2 request shaping (h2 requests only)',
    budgetUs: 3,
    prepare: (env) => {
      const raw = [
        ':method',
        'GET',
        ':scheme',
        'https',
        ':authority',
        'localhost',
        ':path',
        env.inbound().target,
        'authorization',
        `Bearer ${env.key}`,
        'user-agent',
        'curl/8.5.0',
        'accept',
        '*/*',
      ];
      return () => {
        const req = { rawHeaders: raw } as unknown as Parameters<typeof env.m.asHttp1Shape>[0];
        env.m.asHttp1Shape(req);
        return req;
      };
    },
  },
  {
    // A service with `credentials`: its named headers read in order and its query parameter
    // found and cut out of the forwarded query (the default headers cost what they did before).
    stage: 'credential from named headers + query (services with credentials)',
    budgetUs: 1,
    prepare: (env) => {
      const headers: IncomingHttpHeaders = { host: 'localhost', accept: '*/*', 'x-auth-token': env.key };
      const names = ['x-auth-token', 'authorization'];
      const query = `?limit=10&api_key=${env.key}&marker=abc`;
      return () => {
        const inQuery = env.m.queryCredential('api_key', query);
        const credential = env.m.eitherCredential(env.m.extractCredential(headers, names), inQuery!.credential);
        if (credential.kind !== 'present') throw new Error('bench micro: the key must be read');
        return inQuery!.rest;
      };
    },
  },
  {
    // Last-used recording: the observer hands every finished record to the recorder (a Map
    // lookup and three field writes; the key's entry exists after its first use in a minute).
    stage: 'key usage (last used)',
    budgetUs: 1,
    prepare: (env) => {
      const recorder = new env.m.UsageRecorder(Date.now);
      const record = env.record();
      return () => recorder.record(record);
    },
  },
];

export interface MicroResult {
  readonly stage: string;
  /** Median over batches, µs of CPU per operation. */
  readonly us: number;
  readonly min: number;
  readonly max: number;
  readonly budgetUs?: number;
}

export interface MicroOptions {
  readonly keysYaml: string;
  /** An allowed key of `keysYaml`. */
  readonly key: string;
  /** Batches per stage (the median is reported), and CPU ms per batch. */
  readonly batches?: number;
  readonly batchMs?: number;
}

export async function inProcessStages(o: MicroOptions): Promise<MicroResult[]> {
  const env = microEnv(await loadModules(), o.keysYaml, o.key);
  const out: MicroResult[] = [];
  for (const s of MICRO_STAGES) {
    const op = await s.prepare(env);
    const perOp = await timeOp(op, o.batches ?? 9, o.batchMs ?? 40);
    out.push({
      stage: s.stage,
      us: median(perOp),
      min: Math.min(...perOp),
      max: Math.max(...perOp),
      ...(s.budgetUs !== undefined ? { budgetUs: s.budgetUs } : {}),
    });
  }
  return out;
}

function microEnv(m: KeygateModules, keysYaml: string, key: string): MicroEnv {
  const load = (editPolicy?: (p: string) => string, editMain?: (m: string) => string): Snapshot => {
    const { mainFile } = prepareConfig({
      upstream: 'http://127.0.0.1:9',
      keysYaml,
      accessLog: true,
      ...(editPolicy ? { editPolicy } : {}),
      ...(editMain ? { editMain } : {}),
    });
    const loaded = m.loadConfig(mainFile);
    if (!loaded.ok) throw new Error(`bench micro: the bench config does not load: ${loaded.errors.map((e) => e.message).join('; ')}`);
    return loaded.snapshot;
  };
  const target = `/compute${PATHS.small}`;
  const inbound = (k = key): InboundRequest => {
    const headers: IncomingHttpHeaders = { host: 'localhost', authorization: `Bearer ${k}` };
    return {
      method: 'GET',
      target,
      host: 'localhost',
      headers,
      rawHeaders: ['Host', 'localhost', 'Authorization', `Bearer ${k}`],
      mode: 'proxy',
      removesHeaders: true,
      clientIp: '127.0.0.1',
    };
  };
  const keyId = key.split('_')[1] ?? '';
  const record = (): RequestRecord => {
    const r = new m.RequestRecord('proxy', '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', 'GET', target, '127.0.0.1');
    Object.assign(r, {
      service: 'compute',
      keyId,
      keyName: 'bench-1',
      user: 'joe',
      status: 200,
      decisionMs: 0.021,
      upstreamMs: 0.4,
      totalMs: 0.5,
    });
    return r;
  };
  return {
    m,
    snapshot: load(),
    limitedSnapshot: load(limitJoe),
    shadowSnapshot: load(undefined, shadowOfItself),
    key,
    keyId,
    inbound,
    record,
  };
}

/** CPU µs per call of `op`, one value per batch; async ops are awaited one after another. */
async function timeOp(op: MicroOp, batches: number, batchMs: number): Promise<number[]> {
  const first = op();
  const isAsync = first instanceof Promise;
  if (isAsync) await first;
  // Calibrate a batch size of about `batchMs` of CPU, warming the JIT on the way.
  let n = 1000;
  for (;;) {
    const us = await runBatch(op, n, isAsync);
    if (us >= batchMs * 1000 || n >= 10_000_000) break;
    n = Math.ceil(n * Math.min(10, Math.max(1.5, (batchMs * 1000) / Math.max(us, 1))));
  }
  const perOp: number[] = [];
  for (let b = 0; b < batches; b++) perOp.push((await runBatch(op, n, isAsync)) / n);
  return perOp;
}

async function runBatch(op: MicroOp, n: number, isAsync: boolean): Promise<number> {
  const start = process.cpuUsage();
  if (isAsync) for (let i = 0; i < n; i++) await op();
  else for (let i = 0; i < n; i++) op();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}
