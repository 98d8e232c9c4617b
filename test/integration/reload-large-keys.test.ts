import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { formatKey } from '../../src/auth/keyFormat.js';
import { keyIdFor, secretFor, writeLargeKeysFile } from '../../bench/largeKeysFile.js';
import { startStack, type StartedKeygate } from '../helpers/fixture.js';
import { DEMO_KEYS, type TempConfig } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { non2xx, requestLoop, type Load } from '../helpers/requestLoop.js';

/** A keys file of 100,000 keys through the load worker, under traffic. */

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

/** What the generated keys may do (bench/largeKeysFile.ts: read on /v2/{project}/servers and below), decided naively: 200 or 403. */
function expectedStatus(method: string, path: string): number {
  const read = method === 'GET' || method === 'HEAD';
  return read && /^\/compute\/v2\/[^/]+\/servers(\/.*)?$/.test(path) ? 200 : 403;
}

const PROBES = [
  ['GET', PATH],
  ['DELETE', PATH],
  ['GET', '/compute/v1/p1/servers/42'],
  ['HEAD', '/compute/v2/p9/servers'],
] as const;

/** Each sampled key's answers through the running proxy, next to the naive reference. */
async function decisions(kg: StartedKeygate['kg'], sample: readonly number[]): Promise<{ got: number[]; want: number[] }> {
  const got: number[] = [];
  const want: number[] = [];
  for (const i of sample) {
    const key = formatKey(keyIdFor(i), secretFor(i));
    for (const [method, path] of PROBES) {
      const res = await request(`${kg.url()}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
      await res.body.dump();
      got.push(res.statusCode);
      want.push(expectedStatus(method, path));
    }
  }
  return { got, want };
}

describe('hot reload of a large keys file', () => {
  it('100,000 keys reloaded under traffic: zero failed requests, sampled decisions match a naive reference before and after', async () => {
    const count = 100_000;
    const { cfg, kg } = await start(
      (m) =>
        appendTopLevel(
          m.replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./large-keys.yaml]'),
          'reload: { interval: 1h, debounce: 20ms }',
        ),
      (c) => writeLargeKeysFile(c.path('large-keys.yaml'), count),
    );
    expect(kg.app.snapshot().keys.size).toBe(count + 3);
    const sample = Array.from({ length: 12 }, (_, k) => Math.floor((((k * 7919) % 1000) / 1000) * count));
    const before = await decisions(kg, sample);
    expect(before.got).toEqual(before.want);
    const load = requestLoop(kg, [DEMO_KEYS.deploy.key, formatKey(keyIdFor(sample[0]), secretFor(sample[0]))], 1);
    stopFirst = load;
    writeLargeKeysFile(cfg.path('large-keys.yaml'), count + 1); // one key more: the reload is visible
    const added = formatKey(keyIdFor(count), secretFor(count));
    await waitFor(() => kg.app.snapshot().keys.size === count + 4 || undefined, 90_000); // a few seconds on a quiet machine; the worker runs at low priority
    expect((await request(`${kg.url()}${PATH}`, { headers: { authorization: `Bearer ${added}` } })).statusCode).toBe(200);
    await load.stop();
    expect(non2xx(load)).toEqual({});
    expect(load.total).toBeGreaterThan(0);
    const after = await decisions(kg, sample);
    expect(after.got).toEqual(after.want);
  }, 150_000);
});
