import type { StagesResult } from './scenarios/stages.js';
import type { CaseSummary, Measured, ScenarioResult } from './scenarios/harness.js';
import { median, ratio, round } from './lib/stats.js';

export type Verdict = 'met' | 'missed' | 'not measured' | 'reported';

/** One target from issue 8, with what this run measured. */
export interface TargetResult {
  readonly id: string;
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly verdict: Verdict;
  /** false: report only (the nginx comparison, reload, access log). */
  readonly enforced: boolean;
  readonly value?: number;
}

function fmtInt(x: number | undefined): string {
  return x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '-';
}

function fmtMs(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

function fmtX(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';
}

const HEAD = ['case', 'req/s', 'p50 ms', 'p99 ms', 'CPU us/req', 'RSS MiB', 'rps vs bare', 'p99 vs bare', 'errors'];

function rows(s: ScenarioResult): string[][] {
  const bare = s.cases.bare as CaseSummary | undefined;
  return Object.entries(s.cases).map(([name, c]) => [
    name,
    fmtInt(c.rps),
    fmtMs(c.p50),
    fmtMs(c.p99),
    fmtInt(c.cpuUsPerReq),
    fmtInt(c.rssMiB),
    bare && name !== 'bare' ? fmtX(paired(c, bare, (r) => r.rps)) : '',
    bare && name !== 'bare' ? fmtX(paired(c, bare, (r) => r.p99)) : '',
    c.errors ? `${c.errors} (${(c.errorRate * 100).toFixed(2)}%)` : '0',
  ]);
}

/**
 * Median over rounds of a/b, each round's a and b measured next to each other: slow
 * drift of a shared machine cancels out better than in a ratio of medians.
 */
export function paired(a: CaseSummary, b: CaseSummary, f: (m: Measured) => number): number {
  const n = Math.min(a.rounds.length, b.rounds.length);
  return median(Array.from({ length: n }, (_, i) => ratio(f(a.rounds[i]), f(b.rounds[i]))));
}

function pairedDiff(a: CaseSummary, b: CaseSummary, f: (m: Measured) => number): number {
  const n = Math.min(a.rounds.length, b.rounds.length);
  return median(Array.from({ length: n }, (_, i) => f(a.rounds[i]) - f(b.rounds[i])));
}

/** A fixed-width table for the console. */
export function textTable(s: ScenarioResult): string {
  const body = rows(s);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [s.title, line(HEAD), ...body.map(line), ...(s.notes ?? []).map((n) => `  note: ${n}`)].join('\n');
}

export function markdownTable(s: ScenarioResult): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [
    `**${s.title}**`,
    '',
    line(HEAD),
    line(HEAD.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows(s).map(line),
    ...(s.notes ?? []).map((n) => `\n_${n}_`),
  ].join('\n');
}

export function targetsText(targets: readonly TargetResult[]): string {
  const head = ['target', 'goal', 'measured', 'verdict'];
  const body = targets.map((t) => [
    t.target,
    t.goal,
    t.measured,
    `${t.verdict.toUpperCase()}${t.enforced || t.goal === 'report' ? '' : ' (report only)'}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((v, i) => v.padEnd(widths[i])).join('  ');
  return ['targets', line(head), ...body.map(line)].join('\n');
}

export function targetsMarkdown(targets: readonly TargetResult[]): string {
  return [
    '| target | goal | measured | verdict |',
    '|---|---|---|---|',
    ...targets.map(
      (t) => `| ${t.target} | ${t.goal} | ${t.measured} | ${t.verdict}${t.enforced || t.goal === 'report' ? '' : ' (report only)'} |`,
    ),
  ].join('\n');
}

export interface RunSummary {
  readonly date: string;
  readonly mode: string;
  readonly seconds: number;
  readonly nproc: number;
  readonly cpu: string;
  readonly node: string;
  readonly loadavgAtStart: readonly number[];
  readonly loadavgAtEnd: readonly number[];
  readonly settings: { readonly serveKeys: number; readonly rate: number };
  readonly keygate: Record<string, number | undefined>;
  readonly notes: readonly string[];
}

/** bench/results/latest.md: what bench/README.md's "latest run" section is copied from. */
export function markdownReport(
  r: RunSummary,
  scenarios: readonly ScenarioResult[],
  targets: readonly TargetResult[],
  decisionTable?: string,
  stagesTable?: string,
): string {
  const k = r.keygate;
  return [
    `Run of ${r.date} (${r.mode}, ${r.seconds} s) on ${r.nproc} CPUs (${r.cpu}), node ${r.node}; load average ${r.loadavgAtStart.join(' ')} at the start, ${r.loadavgAtEnd.join(' ')} at the end.`,
    `Throughput keygates load ${r.settings.serveKeys.toLocaleString('en')} generated keys; the RSS and reload rows use one with ${fmtInt(k.keys)} keys (started in ${fmtMs((k.startupMs ?? NaN) / 1000)} s; RSS ${fmtInt(k.rssAtStartMiB)} MiB at start, peak ${fmtInt(k.peakAtStartMiB)} MiB, ${fmtInt(k.rssAfterLoadMiB)} MiB after 1 s of load, ${fmtInt(k.rssAfterReloadMiB)} MiB after the reload).`,
    '',
    targetsMarkdown(targets),
    '',
    ...(stagesTable ? [stagesTable, ''] : []),
    ...scenarios.flatMap((s) => [markdownTable(s), '']),
    ...(decisionTable ? ['**decision microbenchmark (bench/policy.ts)**', '', '```', decisionTable.trim(), '```', ''] : []),
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

export interface TargetInputs {
  readonly scenarios: readonly ScenarioResult[];
  readonly keyCount: number;
  readonly rssMiB: number | undefined;
  readonly reload?: { skipped?: string; cases: Record<string, CaseSummary> };
}

/** The targets, each computed from this run only (paired ratios, never absolute numbers). */
export function evaluateTargets(inp: TargetInputs): TargetResult[] {
  const out: TargetResult[] = [];
  const byId = (id: string): Record<string, CaseSummary> | undefined => inp.scenarios.find((s) => s.id === id)?.cases;
  const push = (
    id: string,
    target: string,
    goal: string,
    value: number | undefined,
    pass: (v: number) => boolean,
    show: (v: number) => string,
    enforced = true,
  ): void => {
    const ok = value !== undefined && Number.isFinite(value);
    const verdict: Verdict = !ok ? 'not measured' : goal === 'report' ? 'reported' : pass(value) ? 'met' : 'missed';
    out.push({
      id,
      target,
      goal,
      measured: ok ? show(value) : 'not measured',
      verdict,
      enforced,
      ...(ok ? { value: round(value, 4) } : {}),
    });
  };
  const sg = byId('small_get');
  const rps = (m: Measured): number => m.rps;
  const cpu = (m: Measured): number => m.cpuUsPerReq;
  const p99 = (m: Measured): number => m.p99;
  const p50 = (m: Measured): number => m.p50;
  push(
    'small_get_rps_ratio',
    'small GET req/s, keygate / bare (autocannon)',
    '>= 0.85x',
    sg?.keygate && sg.bare && paired(sg.keygate, sg.bare, rps),
    (v) => v >= 0.85,
    fmtX,
  );
  const naive = sg?.['bare with stream.pipeline'];
  if (naive)
    push(
      'small_get_rps_ratio_pipeline_bare',
      'small GET req/s, keygate / bare with stream.pipeline',
      '>= 0.85x',
      paired(sg.keygate, naive, rps),
      (v) => v >= 0.85,
      (v) => `${fmtX(v)} (CPU ${fmtInt(sg.keygate.cpuUsPerReq)} vs ${fmtInt(naive.cpuUsPerReq)} us)`,
      false,
    );
  const wrk = byId('small_get_wrk');
  if (wrk)
    push(
      'small_get_rps_ratio_wrk',
      'small GET req/s, keygate / bare (wrk)',
      '>= 0.85x',
      paired(wrk.keygate, wrk.bare, rps),
      (v) => v >= 0.85,
      fmtX,
    );
  const mod = byId('moderate_rate');
  push(
    'p99_added_ms',
    'p99 added latency at a moderate fixed rate',
    '< 1 ms',
    mod && pairedDiff(mod.keygate, mod.bare, p99),
    (v) => v < 1,
    (v) =>
      `${v.toFixed(2)} ms (p99 keygate ${fmtMs(mod!.keygate.p99)} vs bare ${fmtMs(mod!.bare.p99)} ms; p50 added ${pairedDiff(mod!.keygate, mod!.bare, p50).toFixed(2)} ms)`,
  );
  const allowed = sg?.keygate;
  const d401 = sg?.['keygate 401 unknown key'];
  const d403 = sg?.['keygate 403 out of scope'];
  push(
    'denied_cheaper',
    'denied (401, 403) CPU per request / allowed',
    '< 1x',
    allowed && d401 && d403 ? Math.max(paired(d401, allowed, cpu), paired(d403, allowed, cpu)) : undefined,
    (v) => v < 1,
    (v) =>
      `${fmtX(v)} (401 ${fmtInt(d401!.cpuUsPerReq)} us, 403 ${fmtInt(d403!.cpuUsPerReq)} us, allowed ${fmtInt(allowed!.cpuUsPerReq)} us)`,
  );
  const flood = byId('unknown_key_flood');
  const floodName = flood && Object.keys(flood).find((n) => n.includes('flood') && !n.includes('no flood'));
  const calm = flood?.['keygate, no flood'];
  push(
    'flood_p99_ratio',
    'legit p99 with a 10x unknown-key flood / without',
    '<= 2x',
    calm && floodName ? paired(flood[floodName], calm, p99) : undefined,
    (v) => v <= 2,
    (v) => `${fmtX(v)} (${fmtMs(flood![floodName!].p99)} vs ${fmtMs(calm!.p99)} ms)`,
  );
  push(
    'rss_100k_keys',
    'keygate RSS with 100,000 keys, after load',
    '< 100 MiB',
    inp.keyCount >= 100_000 ? inp.rssMiB : undefined,
    (v) => v < 100,
    (v) => `${v.toFixed(0)} MiB`,
  );
  if (inp.keyCount < 100_000 && inp.rssMiB !== undefined) {
    out[out.length - 1] = {
      ...out[out.length - 1],
      measured: `not at 100,000 keys: ${inp.rssMiB.toFixed(0)} MiB with ${inp.keyCount.toLocaleString('en')} (run without --quick)`,
    };
  }
  push(
    'cpu_vs_nginx',
    'keygate CPU per small GET / nginx',
    '<= 2.5x',
    sg?.nginx && sg.keygate ? paired(sg.keygate, sg.nginx, cpu) : undefined,
    (v) => v <= 2.5,
    (v) =>
      `${fmtX(v)} (${fmtInt(sg!.keygate.cpuUsPerReq)} vs ${fmtInt(sg!.nginx.cpuUsPerReq)} us; bare ${fmtInt(sg!.bare?.cpuUsPerReq)} us)`,
    false,
  );
  const rl = inp.reload;
  if (rl && !rl.skipped) {
    const during = rl.cases['during reload'];
    const quiet = rl.cases['no reload'];
    push(
      'reload_p99_ratio',
      'legit p99 during a reload / without',
      'report',
      ratio(during.p99, quiet.p99),
      () => true,
      (v) => `${fmtX(v)} (${fmtMs(during.p99)} vs ${fmtMs(quiet.p99)} ms, max ${fmtMs(Math.max(...during.rounds.map((r) => r.max)))} ms)`,
      false,
    );
  } else {
    out.push({
      id: 'reload_p99_ratio',
      target: 'legit p99 during a reload / without',
      goal: 'report',
      measured: rl?.skipped ?? 'not measured',
      verdict: 'not measured',
      enforced: false,
    });
  }
  const logOff = sg?.['keygate, access log off'];
  push(
    'access_log_cost',
    'keygate req/s with access log on / off',
    'report',
    allowed && logOff ? paired(allowed, logOff, rps) : undefined,
    () => true,
    (v) => `${fmtX(v)} (CPU ${fmtInt(allowed!.cpuUsPerReq)} vs ${fmtInt(logOff!.cpuUsPerReq)} us/req)`,
    false,
  );
  return out;
}

const STAGE_ROW_HEAD = ['row', 'req/s', 'CPU us/req', 'CPU range', 'CPU vs bare', 'rps vs bare', 'errors'];
const STAGE_HEAD = ['stage', 'us/req', 'range over rounds', 'budget', 'verdict'];

function stageRowCells(s: StagesResult): string[][] {
  const bare = s.cases.bare as CaseSummary | undefined;
  return s.rows.map((r) => {
    const c = s.cases[r.id];
    const cpus = c.rounds.map((m) => m.cpuUsPerReq).filter(Number.isFinite);
    return [
      r.name,
      fmtInt(c.rps),
      fmtInt(c.cpuUsPerReq),
      cpus.length ? `${fmtInt(Math.min(...cpus))}-${fmtInt(Math.max(...cpus))}` : '-',
      bare && r.id !== 'bare' && r.request === 'proxy' ? fmtX(paired(c, bare, (m) => m.cpuUsPerReq)) : '',
      bare && r.id !== 'bare' && r.request === 'proxy' ? fmtX(paired(c, bare, (m) => m.rps)) : '',
      c.errors ? `${c.errors} (${(c.errorRate * 100).toFixed(2)}%)` : '0',
    ];
  });
}

/** Stages with an in-process row are held to that one: end to end, a few µs drown in noise. */
const heldInProcess = (s: StagesResult, stage: string): boolean =>
  s.inProcess?.some((m) => m.stage === stage && m.budgetUs !== undefined) ?? false;

function stageCells(s: StagesResult): string[][] {
  return s.stages.map((st) => [
    st.stage,
    fmtSigned(st.us),
    `${fmtSigned(st.min)} .. ${fmtSigned(st.max)}`,
    st.budgetUs !== undefined ? `<= ${st.budgetUs}` : '',
    st.budgetUs === undefined || !Number.isFinite(st.us)
      ? ''
      : heldInProcess(s, st.stage)
        ? 'see in-process'
        : st.us <= st.budgetUs
          ? 'met'
          : 'missed',
  ]);
}

const MICRO_HEAD = ['stage', 'us/req', 'range over batches', 'budget', 'verdict'];

function microCells(s: StagesResult): string[][] {
  return (s.inProcess ?? []).map((m) => [
    m.stage,
    fmtMicro(m.us),
    `${fmtMicro(m.min)} .. ${fmtMicro(m.max)}`,
    m.budgetUs !== undefined ? `<= ${m.budgetUs}` : '',
    m.budgetUs === undefined ? '' : m.us <= m.budgetUs ? 'met' : 'missed',
  ]);
}

function fmtMicro(x: number): string {
  return Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '-';
}

const MICRO_TITLE = 'per-stage cost in-process (us of CPU per request, each stage timed alone on the bench config)';
const MICRO_FOOTNOTE =
  'Each stage is the work the request path adds for it, timed in a loop in one process (bench/micro/inProcess.ts), median of the batches: stable to a fraction of a us, so budgets are held to these rows.';

function fmtSigned(x: number): string {
  return Number.isFinite(x) ? (Math.abs(x) < 10 ? x.toFixed(1) : x.toFixed(0)) : '-';
}

function fixedWidth(head: string[], body: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(head), ...body.map(line)];
}

function mdTable(head: string[], body: string[][]): string[] {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)];
}

const STAGE_FOOTNOTE =
  'Each stage = CPU us/req of the row with it minus the row without it, measured in the same round; the median over rounds is shown, the range says how noisy it was (differences below ~10 us are within noise on this machine).';

export function stagesText(s: StagesResult): string {
  return [
    s.title,
    ...fixedWidth(STAGE_ROW_HEAD, stageRowCells(s)),
    '',
    'per-stage cost (us of CPU per request)',
    ...fixedWidth(STAGE_HEAD, stageCells(s)),
    STAGE_FOOTNOTE,
    ...(s.inProcess?.length ? ['', MICRO_TITLE, ...fixedWidth(MICRO_HEAD, microCells(s)), MICRO_FOOTNOTE] : []),
  ].join('\n');
}

export function stagesMarkdown(s: StagesResult): string {
  return [
    `**${s.title}**`,
    '',
    ...mdTable(STAGE_ROW_HEAD, stageRowCells(s)),
    '',
    '**per-stage cost (us of CPU per request)**',
    '',
    ...mdTable(STAGE_HEAD, stageCells(s)),
    '',
    `_${STAGE_FOOTNOTE}_`,
    ...(s.inProcess?.length ? ['', `**${MICRO_TITLE}**`, '', ...mdTable(MICRO_HEAD, microCells(s)), '', `_${MICRO_FOOTNOTE}_`] : []),
  ].join('\n');
}

/** Issue 11's targets, from the stage table alone. */
export function stageTargets(s: StagesResult): TargetResult[] {
  const out: TargetResult[] = [];
  const c = s.cases;
  const cpu = (m: Measured): number => m.cpuUsPerReq;
  const add = (
    id: string,
    target: string,
    goal: string,
    value: number | undefined,
    pass: (v: number) => boolean,
    show: (v: number) => string,
  ): void => {
    const ok = value !== undefined && Number.isFinite(value);
    out.push({
      id,
      target,
      goal,
      measured: ok ? show(value) : 'not measured',
      verdict: !ok ? 'not measured' : pass(value) ? 'met' : 'missed',
      enforced: true,
      ...(ok ? { value: round(value, 4) } : {}),
    });
  };
  const vsBare = (row: string, f: (m: Measured) => number): number | undefined =>
    c[row] && c.bare ? paired(c[row], c.bare, f) : undefined;
  add(
    'stages_cpu_pipe',
    'CPU/request, keygate everything on (pipe) / bare',
    '<= 1.25x',
    vsBare('all_on', cpu),
    (v) => v <= 1.25,
    (v) => `${fmtX(v)} (${fmtInt(c.all_on?.cpuUsPerReq)} vs ${fmtInt(c.bare?.cpuUsPerReq)} us)`,
  );
  add(
    'stages_cpu_file',
    'CPU/request, keygate everything on (file) / bare',
    '<= 1.25x',
    vsBare('log_file', cpu),
    (v) => v <= 1.25,
    (v) => `${fmtX(v)} (${fmtInt(c.log_file?.cpuUsPerReq)} us)`,
  );
  add(
    'stages_rps',
    'req/s, keygate everything on (pipe) / bare',
    '>= 0.85x',
    vsBare('all_on', (m) => m.rps),
    (v) => v >= 0.85,
    fmtX,
  );
  add(
    'stages_vs_caddy',
    'CPU/request, keygate everything on / Caddy',
    '<= 1x',
    c.all_on && c.caddy ? paired(c.all_on, c.caddy, cpu) : undefined,
    (v) => v <= 1,
    (v) => `${fmtX(v)} (${fmtInt(c.all_on.cpuUsPerReq)} vs ${fmtInt(c.caddy.cpuUsPerReq)} us)`,
  );
  add(
    'check_allow_us',
    'decision API, allowed, CPU/request',
    '<= 35 us',
    c.check_allow?.cpuUsPerReq,
    (v) => v <= 35,
    (v) => `${fmtInt(v)} us`,
  );
  add(
    'check_401_us',
    'decision API, 401, CPU/request',
    '<= 25 us',
    c.check_401?.cpuUsPerReq,
    (v) => v <= 25,
    (v) => `${fmtInt(v)} us`,
  );
  add(
    'check_vs_200',
    'decision API allowed / bare node:http 200',
    '<= 2.5x',
    c.check_allow && c.bare_200 ? paired(c.check_allow, c.bare_200, cpu) : undefined,
    (v) => v <= 2.5,
    (v) => `${fmtX(v)} (${fmtInt(c.check_allow.cpuUsPerReq)} vs ${fmtInt(c.bare_200.cpuUsPerReq)} us)`,
  );
  for (const m of s.inProcess ?? []) {
    if (m.budgetUs !== undefined)
      add(
        `stage_inprocess_${m.stage}`,
        `stage (in-process): ${m.stage}`,
        `<= ${m.budgetUs} us`,
        m.us,
        (v) => v <= m.budgetUs!,
        (v) => `${fmtMicro(v)} us (batches ${fmtMicro(m.min)} .. ${fmtMicro(m.max)})`,
      );
  }
  for (const st of s.stages) {
    if (st.budgetUs !== undefined && !heldInProcess(s, st.stage))
      add(
        `stage_${st.stage}`,
        `stage: ${st.stage}`,
        `<= ${st.budgetUs} us`,
        st.us,
        (v) => v <= st.budgetUs!,
        (v) => `${fmtSigned(v)} us (rounds ${fmtSigned(st.min)} .. ${fmtSigned(st.max)})`,
      );
  }
  return out;
}
