/**
 * How long a reload of a large keys file blocks the event loop: loadConfig on the main
 * thread versus AsideLoader (worker parse + batched rebuild), measured with
 * perf_hooks.monitorEventLoopDelay. `node --import tsx bench/reloadEventLoop.ts [keys]`
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { AsideLoader } from '../src/reload/asideLoader.js';
import { loadConfig } from '../src/config/load.js';
import { exampleConfigWithKeys } from './largeKeysFile.js';

const count = Number(process.argv[2] ?? 100_000);

function ms(ns: number): string {
  return (ns / 1e6).toFixed(1);
}

function report(name: string, h: IntervalHistogram, wallMs: number): void {
  console.log(
    `${name.padEnd(28)} wall ${wallMs.toFixed(0).padStart(6)} ms   event-loop delay: max ${ms(h.max).padStart(7)} ms  p99 ${ms(h.percentile(99)).padStart(6)} ms  p50 ${ms(h.percentile(50)).padStart(5)} ms`,
  );
}

async function measure(name: string, fn: () => Promise<unknown> | unknown): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  // A timer keeps ticking so the histogram sees every stall.
  const tick = setInterval(() => {}, 1);
  h.enable();
  await new Promise((r) => setTimeout(r, 200));
  const started = performance.now();
  await fn();
  const wall = performance.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  h.disable();
  clearInterval(tick);
  report(name, h, wall);
}

const { dir, mainFile } = exampleConfigWithKeys(count);
console.log(`${count} keys, ${(readFileSync(join(dir, 'large-keys.yaml')).length / 1e6).toFixed(1)} MB keys file, node ${process.version}`);
const loader = new AsideLoader();
await measure('idle (baseline)', () => new Promise((r) => setTimeout(r, 1000)));
await measure('worker (AsideLoader)', async () => {
  const r = await loader.load(mainFile, { generation: 2, env: process.env });
  if (!r.ok) throw new Error('load failed');
  console.log(`  keys decoded: ${r.snapshot.keys.size}`);
});
await measure('worker again (warm worker)', () => loader.load(mainFile, { generation: 3, env: process.env }));
await loader.close();
if (!process.argv.includes('--no-sync')) {
  await measure('main thread (loadConfig)', () => loadConfig(mainFile, { generation: 4, env: process.env }));
}
rmSync(dir, { recursive: true, force: true });
