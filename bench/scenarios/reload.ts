import { sleep } from '../lib/child.js';
import { catchesSignal, memoryMiB } from '../lib/proc.js';
import { openLoop, startOpenLoop } from '../load/paced.js';
import { metricValue, rewriteAtomically, type KeygatePeer } from '../peers/keygate.js';
import { bearer, PATHS, type BenchContext } from './context.js';
import { measure, summarizeRuns, type Measured, type Peer, type ScenarioResult } from './harness.js';

const SIGHUP = 1;

export interface ReloadOptions {
  readonly keygate: KeygatePeer;
  readonly peer: Peer;
  readonly keysFile: string;
  readonly keysYaml: string;
  readonly keyCount: number;
  /** Longest wait for one reload to show up (generation increases). */
  readonly reloadDeadlineMs: number;
  /** The bench's overall deadline (performance.now() ms): no round starts past it. */
  readonly budgetEndMs: number;
  /** The shortest wait for a reload, even past the budget. */
  readonly minWaitMs: number;
}

export interface ReloadResult extends ScenarioResult {
  readonly skipped?: string;
  readonly reloadMs: number[];
  readonly rssAfterMiB?: number;
  readonly peakMiB?: number;
}

/**
 * p99 of legitimate traffic at the moderate rate while keygate reloads a keys file of
 * `keyCount` keys (the file is changed, then SIGHUP), against a window without a reload.
 * The reload window runs from just before the trigger until the reload has landed (plus
 * a second), bounded by the deadline. A reload that never shows up skips the scenario.
 */
export async function reloadUnderLoad(ctx: BenchContext, o: ReloadOptions): Promise<ReloadResult> {
  const id = 'reload';
  const pid = o.keygate.child.pid;
  const sighup = catchesSignal(pid, SIGHUP);
  const notes: string[] = [
    sighup
      ? 'reload = keys file rewritten atomically + SIGHUP'
      : 'keygate does not catch SIGHUP (it would kill it): reload = keys file rewritten atomically, for the file watcher',
  ];
  const quiet: Measured[] = [];
  const reloading: Measured[] = [];
  const reloadMs: number[] = [];
  const reported: string[] = [];
  const windowMs = ctx.seconds.reloadWindow * 1000;
  const paced = { url: o.peer.url(PATHS.small), headers: bearer(ctx.keys.reader), rate: ctx.rate, expectStatus: 200 };
  let round = 0;
  let partial: string | undefined;
  const roundFits = (): boolean => round === 0 || performance.now() + 2 * windowMs + Math.max(...reloadMs) < o.budgetEndMs;
  while (round < ctx.rounds && roundFits() && !partial) {
    round++;
    quiet.push(await measure(o.peer, () => openLoop({ ...paced, durationS: ctx.seconds.reloadWindow, drainMs: 30_000 })));
    await sleep(200);
    const generation = await metricValue(o.keygate.admin, 'keygate_config_generation');
    const eventsBefore = o.keygate.events().length;
    // Past the bench's budget, a reload still gets `minWaitMs`: a slow reload is a result.
    const deadline = performance.now() + Math.max(o.minWaitMs, Math.min(o.reloadDeadlineMs, o.budgetEndMs - performance.now()));
    const lead = windowMs / 4;
    const run = startOpenLoop({ ...paced, durationS: (deadline - performance.now() + 1_500) / 1000, drainMs: 30_000 });
    const measured = measure(o.peer, () => run.result);
    await sleep(lead);
    const triggered = performance.now();
    rewriteAtomically(o.keysFile, o.keysYaml.replace(/name: bench-1\n/, `name: bench-1-reload-${round}\n`));
    if (sighup) process.kill(pid, 'SIGHUP');
    const landed = await waitForReload(o.keygate, eventsBefore, generation, deadline);
    if (landed.ok) await sleep(1_000);
    run.stop();
    const m = await measured;
    if (!landed.ok) {
      const waited = Math.round(performance.now() - triggered);
      if (!landed.started) {
        return {
          id,
          title: 'reload',
          cases: {},
          reloadMs,
          skipped: `no reload within ${waited} ms of the trigger (${landed.why}); hot reload may not be wired yet`,
          notes,
        };
      }
      partial = `the reload had not finished ${waited} ms after the trigger (the bench's time budget): the row covers that part only`;
      notes.push(partial);
    } else {
      reloadMs.push(Math.round(landed.atMs - triggered));
      if (landed.line) reported.push(reloadFacts(landed.line));
    }
    reloading.push(m);
    await sleep(200);
  }
  const mem = memoryMiB(pid);
  if (reloadMs.length)
    notes.push(
      `reload took ${reloadMs.join(', ')} ms from trigger to the reload log line (or generation change); keygate logged ${reported.join('; ')}`,
    );
  notes.push(`keygate RSS after: ${mem?.rss.toFixed(0)} MiB, peak ${mem?.peak.toFixed(0)} MiB`);
  return {
    id,
    title: `small GETs at ${ctx.rate} req/s during a reload of a ${o.keyCount.toLocaleString('en')}-key file (from trigger until it landed + 1 s) vs ${ctx.seconds.reloadWindow} s without, x ${round} rounds`,
    cases: { 'no reload': summarizeRuns(quiet), 'during reload': summarizeRuns(reloading) },
    reloadMs,
    ...(mem ? { rssAfterMiB: mem.rss, peakMiB: mem.peak } : {}),
    notes,
  };
}

/** A log line about the reload, or the generation gauge moving, whichever shows first. */
async function waitForReload(
  kg: KeygatePeer,
  eventsBefore: number,
  generation: number | undefined,
  deadline: number,
): Promise<{ ok: true; atMs: number; line?: string } | { ok: false; started: boolean; why: string }> {
  let seenAt: number | undefined;
  let line: string | undefined;
  const reloadLines = (): string[] =>
    kg
      .events()
      .slice(eventsBefore)
      .filter((l) => /reload/i.test(l));
  while (performance.now() < deadline && kg.child.alive()) {
    // A line that says the reload is done (not merely started), or any reload line if that is all there is.
    line = reloadLines().find((l) => !/start|begin|triggered|requested/i.test(l));
    if (line) {
      seenAt = performance.now();
      break;
    }
    await sleep(50);
  }
  if (!kg.child.alive()) return { ok: false, started: false, why: 'keygate exited' };
  // Confirm with the gauge (read at the end only: a scrape is not free with many keys).
  for (;;) {
    const now = await metricValue(kg.admin, 'keygate_config_generation');
    if (now !== undefined && generation !== undefined && now > generation)
      return { ok: true, atMs: seenAt ?? performance.now(), ...(line ? { line } : {}) };
    if (performance.now() >= deadline) {
      const started = reloadLines().length > 0;
      return {
        ok: false,
        started,
        why: seenAt
          ? 'a reload line was logged but the generation did not change (failed reload?)'
          : started
            ? 'reload started, not finished'
            : 'no reload log line, generation unchanged',
      };
    }
    await sleep(250);
  }
}

/** What keygate's own reload line says (event, trigger, durationMs), without the rest. */
function reloadFacts(line: string): string {
  try {
    const j = JSON.parse(line) as Record<string, unknown>;
    return ['event', 'trigger', 'durationMs', 'keys']
      .filter((k) => j[k] !== undefined)
      .map((k) => `${k}=${JSON.stringify(j[k])}`)
      .join(' ');
  } catch {
    return line.slice(0, 200);
  }
}
