import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const LOGGER = pathToFileURL(`${REPO}/src/observability/logger.ts`).href;

/** The real stdout of a real process: access lines are batched, other lines are not, and order holds. */
describe('stdout log destination', () => {
  it('flushes an event line at once, after the access lines before it, and access lines on a timer', async () => {
    const script = `
      const { createLogger } = await import(${JSON.stringify(LOGGER)});
      const log = createLogger({ level: 'info' });
      log.info({ n: 1 }, 'request');
      log.info({ event: 'reloaded' }, 'config reloaded');
      log.info({ n: 2 }, 'request');
      setTimeout(() => {}, 2000);`;
    const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const lines = (): Record<string, unknown>[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => (lines().length >= 2 ? true : undefined), 10_000);
    expect(lines().slice(0, 2).map((l) => l.n ?? l.event)).toEqual([1, 'reloaded']);
    await waitFor(() => (lines().length === 3 ? true : undefined), 1_500, () => 'the batched access line was never flushed');
    child.kill();
  });
});
