import { closedLoop } from '../load/autocannon.js';
import { bearer, PATHS, type BenchContext } from './context.js';
import { alternate, measure, type Case, type Peer, type ScenarioResult } from './harness.js';

const UPLOAD = Buffer.alloc(1024 * 1024, 'u');

function closedCase(
  ctx: BenchContext,
  name: string,
  peer: Peer,
  path: string,
  key: string,
  expectStatus: number,
  seconds: number,
  extra: { method?: 'POST'; body?: Buffer; connections?: number } = {},
): Case {
  return {
    name,
    run: () =>
      measure(peer, () =>
        closedLoop({
          url: peer.url(path),
          headers: { ...bearer(key), ...(extra.body ? { 'content-type': 'application/octet-stream' } : {}) },
          connections: extra.connections ?? ctx.connections,
          durationS: seconds,
          expectStatus,
          ...(extra.method ? { method: extra.method } : {}),
          ...(extra.body ? { body: extra.body } : {}),
        }),
      ),
  };
}

/** JIT and pools warmed before anything is measured; results are thrown away. */
export async function warmUp(ctx: BenchContext): Promise<void> {
  const { bare, barePipeline, keygate, keygateNoLog, nginx } = ctx.peers;
  for (const peer of [bare, ...(barePipeline ? [barePipeline] : []), keygate, keygateNoLog, ...(nginx ? [nginx] : [])]) {
    await closedLoop({
      url: peer.url(PATHS.small),
      headers: bearer(ctx.keys.reader),
      connections: ctx.connections,
      durationS: ctx.seconds.warmup,
      expectStatus: 200,
    });
  }
  await closedLoop({
    url: keygate.url(PATHS.small),
    headers: bearer(ctx.keys.unknown),
    connections: ctx.connections,
    durationS: ctx.seconds.warmup / 2,
    expectStatus: 401,
  });
}

/** Small allowed GETs against every peer, and keygate's 401 and 403 in the same rounds. */
export async function smallGet(ctx: BenchContext): Promise<ScenarioResult> {
  const { bare, barePipeline, keygate, keygateNoLog, nginx } = ctx.peers;
  const s = ctx.seconds.smallGet;
  const cases = [
    closedCase(ctx, 'bare', bare, PATHS.small, ctx.keys.reader, 200, s),
    ...(barePipeline ? [closedCase(ctx, 'bare with stream.pipeline', barePipeline, PATHS.small, ctx.keys.reader, 200, s)] : []),
    closedCase(ctx, 'keygate', keygate, PATHS.small, ctx.keys.reader, 200, s),
    closedCase(ctx, 'keygate, access log off', keygateNoLog, PATHS.small, ctx.keys.reader, 200, s),
    ...(nginx ? [closedCase(ctx, 'nginx', nginx, PATHS.small, ctx.keys.reader, 200, s)] : []),
    closedCase(ctx, 'keygate 401 unknown key', keygate, PATHS.small, ctx.keys.unknown, 401, s),
    closedCase(ctx, 'keygate 403 out of scope', keygate, PATHS.outOfScope, ctx.keys.reader, 403, s),
  ];
  return {
    id: 'small_get',
    title: `small GET, autocannon ${ctx.connections} connections, ${s} s x ${ctx.headlineRounds} rounds`,
    cases: await alternate(ctx.headlineRounds, cases),
  };
}

export async function bigResponse(ctx: BenchContext): Promise<ScenarioResult> {
  const { bare, keygate } = ctx.peers;
  const s = ctx.seconds.transfer;
  return {
    id: 'response_64k',
    title: `64 KiB response, autocannon ${ctx.connections} connections, ${s} s x ${ctx.rounds} rounds`,
    cases: await alternate(ctx.rounds, [
      closedCase(ctx, 'bare', bare, PATHS.big, ctx.keys.reader, 200, s),
      closedCase(ctx, 'keygate', keygate, PATHS.big, ctx.keys.reader, 200, s),
    ]),
  };
}

export async function upload(ctx: BenchContext): Promise<ScenarioResult> {
  const { bare, keygate } = ctx.peers;
  const s = ctx.seconds.transfer;
  const connections = Math.max(1, ctx.connections / 4);
  const opts = { method: 'POST' as const, body: UPLOAD, connections };
  return {
    id: 'upload_1m',
    title: `1 MiB upload (POST), autocannon ${connections} connections, ${s} s x ${ctx.rounds} rounds`,
    cases: await alternate(ctx.rounds, [
      closedCase(ctx, 'bare', bare, PATHS.upload, ctx.keys.writer, 200, s, opts),
      closedCase(ctx, 'keygate', keygate, PATHS.upload, ctx.keys.writer, 200, s, opts),
    ]),
  };
}
