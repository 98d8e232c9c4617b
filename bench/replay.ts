import { cpSync, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { loadConfig } from '../src/config/load.js';
import { AccessLog } from '../src/observability/accessLog.js';
import { RequestRecord } from '../src/observability/requestRecord.js';
import { fileLines } from '../src/replay/accessLines.js';
import { replayLogs } from '../src/replay/replay.js';

/*
 * `keygate replay` on a large log: N access lines (default 1,000,000) written by keygate's
 * own AccessLog writer for a mix of requests of the demo keys (allowed, denied by scope,
 * by a deny rule, by a guardrail, 401s and 404s), then replayed against the example config
 * with the monitoring key tightened. Reports wall time, lines/s and peak RSS (the replay
 * must stream: memory flat in the log's size). Budget: 1,000,000 lines in < 30 s.
 * Run: npm run bench:replay [-- LINES] [-- --gzip]
 */

const REPO = resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;
const BUDGET_S = 30;
const args = process.argv.slice(2);
const lines = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const gzip = args.includes('--gzip');

const KEYS = {
  monitoring: { id: 'DT7nOCBZHjkw', user: 'joe', name: 'monitoring' },
  deploy: { id: 'ZzPjRE9uyI9s', user: 'joe', name: 'deploy' },
  alice: { id: 'J5fIC0OTO4Co', user: 'alice', name: 'alice-admin' },
} as const;

type Shape = readonly [key: keyof typeof KEYS | null, method: string, path: string, reason: string, status: number];
const SHAPES: readonly Shape[] = [
  ['monitoring', 'GET', '/compute/v2/p1/servers/1', 'allow', 200],
  ['monitoring', 'GET', '/compute/v2/p2/servers/7/metrics', 'allow', 200],
  ['monitoring', 'POST', '/compute/v2/p1/servers', 'key_scope_denied', 403],
  ['deploy', 'PUT', '/compute/v2/p1/servers/3', 'allow', 200],
  ['deploy', 'DELETE', '/compute/v2/p1/servers/3', 'key_deny_rule', 403],
  ['alice', 'GET', '/identity/v3/users/u1', 'allow', 200],
  ['alice', 'POST', '/identity/v3/users/u1/credentials/x', 'guardrail', 403],
  [null, 'GET', '/compute/v2/p1/servers/1', 'missing_credentials', 401],
  ['monitoring', 'GET', '/nowhere', 'no_route', 404],
];

function record(i: number): RequestRecord {
  const [key, method, path, reason, status] = SHAPES[i % SHAPES.length];
  const r = new RequestRecord(
    i % 5 === 0 ? 'check' : 'proxy',
    `req-${i}`,
    method,
    `${path.replace('/1', `/${i % 1000}`)}?q=${i}`,
    `10.0.${(i >> 8) & 255}.${i & 255}`,
  );
  r.host = 'api.example.com';
  r.service = path.startsWith('/compute') ? 'compute' : path.startsWith('/identity') ? 'identity' : undefined;
  if (key) Object.assign(r, { keyId: KEYS[key].id, keyName: KEYS[key].name, user: KEYS[key].user });
  if (reason !== 'allow') Object.assign(r, { decision: 'deny', reason, status });
  Object.assign(r, { decisionMs: 0.04, upstreamMs: reason === 'allow' ? 3.2 : undefined, totalMs: 3.5 });
  return r;
}

async function writeLog(file: string): Promise<void> {
  const log = new AccessLog({ writeBatched: () => undefined }, 4242, 'bench-host');
  const start = Date.parse('2026-12-01T00:00:00Z');
  function* chunks(): Generator<string> {
    const batch: string[] = [];
    for (let i = 0; i < lines; i++) {
      batch.push(log.line(record(i), start + i));
      if (batch.length === 10_000) yield batch.splice(0).join('');
    }
    if (batch.length) yield batch.join('');
  }
  const source = Readable.from(chunks());
  await (gzip ? pipeline(source, createGzip({ level: 1 }), createWriteStream(file)) : pipeline(source, createWriteStream(file)));
}

function candidate(dir: string): string {
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  const keys = join(dir, 'keys.yaml');
  const text = readFileSync(keys, 'utf8');
  const tightened = text.replace('path: "/v2/*/servers/**" }', 'path: "/v2/p1/servers/**" }');
  if (tightened === text) throw new Error('bench: config/keys.yaml changed; adjust the tightened candidate');
  writeFileSync(keys, tightened);
  return join(dir, 'keygate.yaml');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-replay-'));
  try {
    const file = join(dir, gzip ? 'access.log.gz' : 'access.log');
    const written = performance.now();
    await writeLog(file);
    console.log(
      `wrote ${lines.toLocaleString('en')} access lines (${(statSync(file).size / MiB).toFixed(0)} MiB${gzip ? ' gzipped' : ''}) in ${((performance.now() - written) / 1000).toFixed(1)} s`,
    );
    const loaded = loadConfig(candidate(join(dir, 'candidate')), { serviceTokens: false });
    if (!loaded.ok) throw new Error('bench: the candidate config does not load');
    // The floor in the same run (this machine is shared and noisy): reading and JSON-parsing every line, nothing else.
    const floorStarted = performance.now();
    let parsed = 0;
    for await (const batch of fileLines(file)) for (const line of batch) if (line !== '' && JSON.parse(line) !== null) parsed++;
    const floorSeconds = (performance.now() - floorStarted) / 1000;
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const summary = await replayLogs(fileLines(file), loaded.snapshot, undefined);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const c = summary.changes;
    console.log(
      `replayed ${summary.replayed.toLocaleString('en')} of ${summary.lines.toLocaleString('en')} lines in ${seconds.toFixed(1)} s ` +
        `(${Math.round(summary.lines / seconds).toLocaleString('en')} lines/s); changes: ${c.allowed_to_denied.count} allowed→denied, ${c.denied_to_allowed.count} denied→allowed`,
    );
    console.log(
      `reading + JSON.parse alone: ${floorSeconds.toFixed(1)} s for ${parsed.toLocaleString('en')} lines; replay = ${(seconds / floorSeconds).toFixed(2)}x that`,
    );
    console.log(`RSS before ${(rssBefore / MiB).toFixed(0)} MiB, peak during replay ${(peak / MiB).toFixed(0)} MiB`);
    const budget = (seconds * 1_000_000) / lines;
    console.log(
      `per 1,000,000 lines: ${budget.toFixed(1)} s (budget ${BUDGET_S} s): ${budget < BUDGET_S ? 'within budget' : 'OVER BUDGET'}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
