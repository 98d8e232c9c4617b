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

/** This process's threads: nice value (field 19 of /proc/self/task/TID/stat) and CPU ticks used (fields 14 and 15). */
function threads(): Map<string, { nice: number; ticks: number }> {
  const found = new Map<string, { nice: number; ticks: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.set(tid, { nice: Number(f[16]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return found;
}

/** Threads at nice 10 that were not in `before`: test files share their process, and an earlier file's load worker may still be ending. */
function newThreadsAtNice10(before: ReadonlySet<string>): number {
  return [...threads()].filter(([tid, t]) => !before.has(tid) && t.nice === 10).length;
}

describe.skipIf(process.platform !== 'linux' || !existsSync('/proc/self/task'))('load worker priority', () => {
  it('a start-up load runs at normal priority; the first reload lowers the worker thread to nice 10', async () => {
    const before = new Set(threads().keys());
    const first = await loader.load(cfg.mainFile, { generation: 1, env: process.env, startup: true });
    expect(first.ok).toBe(true);
    expect(newThreadsAtNice10(before)).toBe(0);
    const reload = await loader.load(cfg.mainFile, { generation: 2, env: process.env });
    expect(reload.ok).toBe(true);
    expect(newThreadsAtNice10(before)).toBe(1);
  });

  it('a worker started for a reload is lowered before it compiles the loader, not after', async () => {
    const fresh = new AsideLoader();
    const before = new Set(threads().keys());
    let loaded = false;
    const reload = fresh.load(cfg.mainFile, { generation: 1, env: process.env }).finally(() => (loaded = true));
    // The new thread's CPU ticks when it is first seen at nice 10: its start only, not the ~150 ms of imports after it.
    let ticksWhenLowered: number | undefined;
    let ticksAtEnd = 0;
    let tid: string | undefined;
    while (!loaded) {
      for (const [id, t] of threads()) {
        if (before.has(id) || (tid !== undefined && id !== tid)) continue;
        if (t.nice === 10 && tid === undefined) [tid, ticksWhenLowered] = [id, t.ticks];
      }
      if (tid !== undefined) ticksAtEnd = threads().get(tid)?.ticks ?? ticksAtEnd;
      await new Promise((r) => setImmediate(r));
    }
    expect((await reload).ok).toBe(true);
    await fresh.close();
    expect(ticksWhenLowered).toBeDefined();
    expect(ticksWhenLowered!).toBeLessThan(ticksAtEnd / 2);
  });
});
