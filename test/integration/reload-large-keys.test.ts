import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { formatKey } from '../../src/auth/keyFormat.js';
import { keyIdFor, secretFor, writeLargeKeysFile } from '../../bench/largeKeysFile.js';
import { startStack, type StartedKeygate } from '../helpers/fixture.js';
import { DEMO_KEYS, type TempConfig } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { non2xx, requestLoop, type Load } from '../helpers/requestLoop.js';

/** A keys file large enough to go through the load worker in several batches, under traffic. */

const PATH = '/compute/v2/p1/servers/42';

let cleanup: (() => Promise<void>) | undefined;
/** A failed test leaves its request loop running: stop it before closing what it talks to. */
let stopFirst: Load | undefined;
afterEach(async () => {
  await stopFirst?.stop();
  await cleanup?.();
  cleanup = undefined;
  stopFirst = undefined;
});

async function start(edit: (main: string) => string, prepare: (cfg: TempConfig) => void = () => {}): Promise<StartedKeygate> {
  const stack = await startStack({ edit, prepare });
  cleanup = stack.close;
  return stack;
}

describe('hot reload of a large keys file', () => {
  it('goes through the load worker in batches while requests keep flowing', async () => {
    const { cfg, kg } = await start(
      (m) => appendTopLevel(m.replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./large-keys.yaml]'), 'reload: { interval: 1h, debounce: 20ms }'),
      (c) => writeFileSync(c.path('large-keys.yaml'), 'keys: []\n'),
    );
    const load = requestLoop(kg, [DEMO_KEYS.deploy.key], 1);
    stopFirst = load;
    const count = 2_000; // enough for several batches; bench/reloadEventLoop.ts does 100,000
    writeLargeKeysFile(cfg.path('large-keys.yaml'), count);
    const last = formatKey(keyIdFor(count - 1), secretFor(count - 1));
    await waitFor(() => kg.app.snapshot().keys.size === count + 3 || undefined, 30_000); // ~1 s on a quiet machine; the worker runs at low priority
    expect((await request(`${kg.url()}${PATH}`, { headers: { authorization: `Bearer ${last}` } })).statusCode).toBe(200);
    await load.stop();
    expect(non2xx(load)).toEqual({});
    expect(load.total).toBeGreaterThan(0);
  }, 45_000);
});
