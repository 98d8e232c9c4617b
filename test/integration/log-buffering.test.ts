import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const LOGGER = pathToFileURL(`${REPO}/src/observability/logger.ts`).href;
const SINK = pathToFileURL(`${REPO}/src/observability/logSink.ts`).href;

function run(body: string): { lines: () => Record<string, unknown>[]; exited: Promise<number | null>; kill: () => void } {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOGGER)});
    const { stdoutSink } = await import(${JSON.stringify(SINK)});
    const sink = stdoutSink();
    const log = createLogger({ level: 'info', destination: sink });
    ${body}`;
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    kill: () => child.kill(),
  };
}

/** The real stdout of a real process: access lines are batched, other lines are not, and order holds. */
describe('stdout log sink', () => {
  it('writes an event line at once, after the access lines before it, and access lines on a timer', async () => {
    const p = run(`
      sink.writeBatched('{"n":1}\\n');
      log.info({ event: 'reloaded' }, 'config reloaded');
      sink.writeBatched('{"n":2}\\n');
      setTimeout(() => {}, 2000);`);
    await waitFor(() => (p.lines().length >= 2 ? true : undefined), 10_000);
    expect(
      p
        .lines()
        .slice(0, 2)
        .map((l) => l.n ?? l.event),
    ).toEqual([1, 'reloaded']);
    await waitFor(
      () => (p.lines().length === 3 ? true : undefined),
      1_500,
      () => 'the batched access line was never flushed',
    );
    p.kill();
  });

  it('writes a full batch at once, without waiting for the timer, and keeps the rest until it is due', async () => {
    // 60 lines of ~400 bytes: one 16 KiB batch goes out while the event loop is blocked
    // (no timer can fire), the remainder only at exit.
    const p = run(`
      const pad = 'x'.repeat(380);
      for (let n = 0; n < 60; n++) sink.writeBatched(JSON.stringify({ n, pad }) + '\\n');
      const until = Date.now() + 1500;
      while (Date.now() < until) {}
      process.stdout.write('');`);
    let exited = false;
    void p.exited.then(() => (exited = true));
    const early = await waitFor(() => (p.lines().length > 0 ? p.lines().length : undefined), 10_000);
    expect(exited, 'the full batch waited for the exit').toBe(false);
    expect(early).toBeGreaterThanOrEqual(40);
    expect(early).toBeLessThan(60);
    expect(await p.exited).toBe(0);
    expect(p.lines().map((l) => l.n)).toEqual(Array.from({ length: 60 }, (_, n) => n));
  });

  it('writes every batched line before the process exits', async () => {
    const p = run(`
      for (let n = 0; n < 1000; n++) sink.writeBatched(JSON.stringify({ n }) + '\\n');
      process.exitCode = 0;`);
    expect(await p.exited).toBe(0);
    expect(p.lines().map((l) => l.n)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
  });
});
