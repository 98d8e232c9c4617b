import { sleep } from '../lib/child.js';
import { openLoop, type PacedResult } from '../load/paced.js';
import { bearer, PATHS, type BenchContext } from './context.js';
import { alternate, measure, type Case, type Measured, type Peer, type ScenarioResult } from './harness.js';

function pacedCase(ctx: BenchContext, name: string, peer: Peer): Case {
  return {
    name,
    run: () =>
      measure(peer, () =>
        openLoop({
          url: peer.url(PATHS.small),
          headers: bearer(ctx.keys.reader),
          rate: ctx.rate,
          durationS: ctx.seconds.paced,
          expectStatus: 200,
        }),
      ),
  };
}

/** Added latency at a moderate, fixed rate: p99 of each peer's answers, sent evenly. */
export async function moderateRate(ctx: BenchContext): Promise<ScenarioResult> {
  const { bare, keygate, nginx } = ctx.peers;
  return {
    id: 'moderate_rate',
    title: `small GET at a fixed ${ctx.rate} req/s (open loop), ${ctx.seconds.paced} s x ${ctx.rounds} rounds`,
    cases: await alternate(ctx.rounds, [
      pacedCase(ctx, 'bare', bare),
      pacedCase(ctx, 'keygate', keygate),
      ...(nginx ? [pacedCase(ctx, 'nginx', nginx)] : []),
    ]),
  };
}

/**
 * Legitimate traffic at the moderate rate, alone and with a flood of unknown (but
 * well-formed) keys at 10x that rate running from another worker.
 */
export async function unknownKeyFlood(ctx: BenchContext): Promise<ScenarioResult> {
  const { keygate } = ctx.peers;
  const floodRate = ctx.rate * 10;
  const floods: PacedResult[] = [];
  const legit = (): Promise<Measured> =>
    openLoop({
      url: keygate.url(PATHS.small),
      headers: bearer(ctx.keys.reader),
      rate: ctx.rate,
      durationS: ctx.seconds.paced,
      expectStatus: 200,
    }).then((r) => ({ ...r, cpuUsPerReq: NaN, rssMiB: NaN }));
  const withFlood: Case = {
    name: `keygate + ${floodRate} req/s unknown-key flood`,
    run: async () => {
      const lead = 0.25;
      const flood = openLoop({
        url: keygate.url(PATHS.small),
        headers: bearer(ctx.keys.unknown),
        rate: floodRate,
        durationS: ctx.seconds.paced + 2 * lead,
        expectStatus: 401,
      });
      await sleep(lead * 1000);
      const m = await measure(keygate, legit);
      floods.push(await flood);
      // keygate's CPU here is the flood's as much as the legitimate requests'.
      return { ...m, cpuUsPerReq: NaN };
    },
  };
  const alone: Case = { name: 'keygate, no flood', run: () => measure(keygate, legit) };
  const cases = await alternate(ctx.rounds, [alone, withFlood]);
  const floodRps = floods.map((f) => Math.round(f.rps));
  const floodErrors = floods.reduce((a, f) => a + f.errors, 0);
  const floodRequests = floods.reduce((a, f) => a + f.requests, 0);
  return {
    id: 'unknown_key_flood',
    title: `legitimate small GETs at ${ctx.rate} req/s, without and with a ${floodRate} req/s flood of unknown keys, ${ctx.seconds.paced} s x ${ctx.rounds} rounds`,
    cases,
    notes: [
      `flood achieved ${floodRps.join(', ')} req/s (asked ${floodRate}); ${floodRequests} flood answers, ${floodErrors} not 401 or unanswered`,
    ],
  };
}
