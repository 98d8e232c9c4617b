/**
 * Micro-benchmark of the request-meaning checks on a typical request (no override, no
 * upgrade): the header scan, the method-override check and the added header-rewrite work.
 * In-situ the cost is higher (see PERF-NOTES): the per-stage table (`npm run bench --
 * --only stages`, stage "request meaning") is the number that counts; this one shows
 * what the functions themselves cost, without the noise of a loaded machine.
 *   node --import tsx bench/requestMeaning.ts
 */
import { DEFAULT_REQUEST_RULES } from '../src/config/requestRules.js';
import { droppedHeaders, identityValue } from '../src/proxy/headers.js';
import { checkMethodOverrides, queryMethodOverrides, scanHeaders, upgradeProblem } from '../src/proxy/requestMeaning.js';

const RAW = [
  'Host',
  'api.example.com',
  'User-Agent',
  'curl/8.5.0',
  'Accept',
  '*/*',
  'Authorization',
  'Bearer kg_xxxxxxxxxxxx_yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy',
  'X-Request-Id',
  'abc-123',
  'Accept-Encoding',
  'gzip',
];
const N = 2_000_000;

function time(name: string, fn: () => unknown): void {
  for (let i = 0; i < 100_000; i++) fn();
  const start = process.hrtime.bigint();
  let sink: unknown;
  for (let i = 0; i < N; i++) sink = fn();
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${name.padEnd(48)} ${ns.toFixed(1).padStart(7)} ns/request${sink === Symbol.for('x') ? '!' : ''}`);
}

const rules = DEFAULT_REQUEST_RULES;
time('reference: lower-case every header name once', () => {
  let n = 0;
  for (let i = 0; i < RAW.length; i += 2) n += RAW[i].toLowerCase().length;
  return n;
});
time('scanHeaders (6 headers)', () => scanHeaders(RAW));
time('upgradeProblem + checkMethodOverrides', () => {
  const found = scanHeaders(RAW);
  return upgradeProblem(rules, found) ?? checkMethodOverrides(rules, found, 'GET', '?page=2&sort=name');
});
time('queryMethodOverrides (no _method)', () => queryMethodOverrides('?page=2&sort=name'));
time('droppedHeaders (cached) + 6 Set lookups', () => {
  const d = droppedHeaders(rules);
  let n = 0;
  for (let i = 0; i < RAW.length; i += 2) if (d.has(RAW[i].toLowerCase())) n++;
  return n;
});
time('identityValue x2 (ASCII names)', () => identityValue('joe') + identityValue('monitoring'));
