import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { writeLargeKeysFile } from '../../bench/largeKeysFile.js';
import { KeygateApp } from '../../src/cli/app.js';
import { tempConfig, type TempConfig } from '../helpers/config.js';
import { freePort } from '../helpers/raw.js';

/**
 * Start-up with a large key set: the admin port answers at once, `/healthz` 200 (alive,
 * so a liveness probe does not kill the pod) and `/readyz` 503 until the first load is
 * done; then `/readyz` 200 on the same port.
 */

let cfg: TempConfig | undefined;
let app: KeygateApp | undefined;
afterEach(async () => {
  await app?.shutdown('test');
  cfg?.cleanup();
  app = undefined;
  cfg = undefined;
});

async function statusOf(url: string): Promise<number | undefined> {
  try {
    const res = await request(url);
    await res.body.dump();
    return res.statusCode;
  } catch {
    return undefined; // not listening (yet)
  }
}

describe('start-up readiness', () => {
  it('the admin port is up while 50,000 keys load: /healthz 200, /readyz 503; /readyz 200 once loaded', async () => {
    cfg = tempConfig('http://127.0.0.1:9', (m) => m.replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./large-keys.yaml]'));
    writeLargeKeysFile(cfg.path('large-keys.yaml'), 50_000);
    const port = await freePort();
    const admin = `http://127.0.0.1:${port}`;
    const here = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };
    let started = false;
    const starting = KeygateApp.start({
      configFile: cfg.mainFile,
      logDestination: new PassThrough().resume(),
      watch: false,
      listen: { proxy: here, check: here, admin: { host: '127.0.0.1', port, text: `127.0.0.1:${port}` } },
    }).then((a) => {
      started = true;
      return (app = a);
    });
    const seen: { healthz?: number; readyz?: number; whileLoading: boolean }[] = [];
    const deadline = Date.now() + 30_000;
    while (!started && Date.now() < deadline) {
      const healthz = await statusOf(`${admin}/healthz`);
      const readyz = await statusOf(`${admin}/readyz`);
      if (healthz !== undefined) seen.push({ healthz, readyz, whileLoading: !started });
      await new Promise((r) => setTimeout(r, 10));
    }
    await starting;
    const duringLoad = seen.filter((s) => s.whileLoading);
    expect(duringLoad.length).toBeGreaterThan(0);
    expect(duringLoad.every((s) => s.healthz === 200 && s.readyz === 503)).toBe(true);
    expect(await statusOf(`${admin}/readyz`)).toBe(200);
    expect(await statusOf(`${admin}/healthz`)).toBe(200);
  }, 60_000);
});
