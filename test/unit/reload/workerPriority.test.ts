import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AsideLoader } from '../../../src/reload/asideLoader.js';
import { tempConfig } from '../../helpers/config.js';

/**
 * The load worker keeps its normal priority for a start-up load (nothing is served yet,
 * readiness waits for it) and lowers it (nice 10, its own thread only) for reloads.
 */
const cfg = tempConfig('http://127.0.0.1:9');
const loader = new AsideLoader();
afterAll(async () => {
  await loader.close();
  cfg.cleanup();
});

/** This process's threads at nice 10 (field 19 of /proc/self/task/TID/stat). */
function threadsAtNice10(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === 10) n++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

describe.skipIf(process.platform !== 'linux' || !existsSync('/proc/self/task'))('load worker priority', () => {
  it('a start-up load runs at normal priority; the first reload lowers the worker thread to nice 10', async () => {
    const before = threadsAtNice10();
    const first = await loader.load(cfg.mainFile, { generation: 1, env: process.env, startup: true });
    expect(first.ok).toBe(true);
    expect(threadsAtNice10()).toBe(before);
    const reload = await loader.load(cfg.mainFile, { generation: 2, env: process.env });
    expect(reload.ok).toBe(true);
    expect(threadsAtNice10()).toBe(before + 1);
  });
});
