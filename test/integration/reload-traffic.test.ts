import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startStack, type StartedKeygate } from '../helpers/fixture.js';
import { DEMO_KEYS, type TempConfig } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { non2xx, requestLoop, type Load } from '../helpers/requestLoop.js';

/** "A reload never drops or fails a request" (SPEC §7), under continuous keep-alive traffic. */

let cleanup: (() => Promise<void>) | undefined;
/** A failed test leaves its request loop running: stop it before closing what it talks to. */
let stopFirst: Load | undefined;
afterEach(async () => {
  await stopFirst?.stop();
  await cleanup?.();
  cleanup = undefined;
  stopFirst = undefined;
});

async function start(edit: (main: string) => string): Promise<StartedKeygate> {
  // The loop runs flat out: the demo monitoring key's own rate limit (20/s) would answer 429.
  const unlimited = (cfg: TempConfig): void =>
    cfg.write('keys.yaml', cfg.read('keys.yaml').replace(/\n +# 20\/s[^\n]*\n +rateLimit: scraper/, ''));
  const stack = await startStack({ edit, prepare: unlimited });
  cleanup = stack.close;
  return stack;
}

describe('reloads under traffic', () => {
  it('50 reloads (keys, policy, token) during a continuous request loop: zero non-2xx', async () => {
    const { cfg, kg } = await start((m) => appendTopLevel(m, 'reload: { interval: 1h, debounce: 5ms }'));
    const keysBase = cfg.read('keys.yaml');
    expect(keysBase).not.toContain('rateLimit');
    const policyBase = cfg.read('policy.yaml');
    const extra = newKey();
    const load = requestLoop(kg, [DEMO_KEYS.deploy.key, DEMO_KEYS.monitoring.key]);
    stopFirst = load;
    // Each edit changes its file from what the previous reload read: 50 edits, 50 reloads.
    const edits = [
      (i: number) => cfg.write('keys.yaml', `${keysBase.trimEnd()}\n${keyEntry(extra, 'joe', `extra-${i}`)}\n`),
      (i: number) => cfg.write('policy.yaml', `${policyBase}# edit ${i}\n`),
      (i: number) => writeFileSync(cfg.path('secrets/compute.token'), `token-${i}\n`),
      () => cfg.write('keys.yaml', keysBase),
    ];
    for (let i = 0; i < 50; i++) {
      const generation = kg.app.snapshot().generation;
      edits[i % edits.length](i);
      await waitFor(
        () => kg.app.snapshot().generation > generation || undefined,
        15_000,
        () => `reload ${i} did not happen`,
      );
    }
    await load.stop();
    expect(non2xx(load)).toEqual({});
    expect(kg.app.snapshot().generation).toBe(51);
    expect(load.generations.size).toBeGreaterThanOrEqual(25); // the traffic really overlapped the reloads
    expect(kg.logs().filter((l) => l.event === 'reload_failed')).toEqual([]);
  });
});
