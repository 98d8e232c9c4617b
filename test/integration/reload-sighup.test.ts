import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { spawnKeygate, waitFor, type KeygateProcess } from '../helpers/keygate.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** SIGHUP on a real `keygate serve` process (bin/keygate.js, built code). */

let upstream: TestUpstream | undefined;
let cfg: TempConfig | undefined;
let kp: KeygateProcess | undefined;
afterEach(async () => {
  if (kp && kp.child.exitCode === null) {
    kp.child.kill('SIGTERM');
    await kp.exited;
  }
  await upstream?.close();
  cfg?.cleanup();
  kp = upstream = cfg = undefined;
});

function logLines(p: KeygateProcess, event: string): Record<string, unknown>[] {
  return p
    .stdout()
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function status(port: number, key: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/compute/v2/p1/servers/42`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('SIGHUP', () => {
  it('reloads every file even when none changed, and the process keeps serving', async () => {
    upstream = await startUpstream();
    cfg = tempConfig(upstream.origin, (m) => appendTopLevel(m, 'reload: { interval: 1h, debounce: 20ms }'));
    kp = spawnKeygate(['serve', '-c', cfg.mainFile]);
    const { proxy } = await kp.ports();
    kp.child.kill('SIGHUP');
    const reloaded = await waitFor(
      () => logLines(kp!, 'reloaded')[0],
      10_000,
      () => kp!.stdout() + kp!.stderr(),
    );
    expect(reloaded).toMatchObject({ trigger: 'signal', generation: 2, changed: [] });
    expect(kp.child.exitCode).toBeNull();
    expect(await status(proxy, DEMO_KEYS.deploy.key)).toBe(200);

    kp.child.kill('SIGHUP');
    await waitFor(() => logLines(kp!, 'reloaded').find((l) => l.generation === 3));
    kp.child.kill('SIGTERM');
    expect(await kp.exited).toBe(0);
  });

  it('an invalid file on SIGHUP: reload_failed with file:line:col, the last good config keeps serving', async () => {
    upstream = await startUpstream();
    cfg = tempConfig(upstream.origin, (m) => appendTopLevel(m, 'reload: { interval: 1h, debounce: 20ms }'));
    kp = spawnKeygate(['serve', '-c', cfg.mainFile]);
    const { proxy } = await kp.ports();
    const good = cfg.read('keys.yaml');
    cfg.write('keys.yaml', `${good}  - id: not-an-id\n`);
    kp.child.kill('SIGHUP');
    const failed = await waitFor(
      () => logLines(kp!, 'reload_failed')[0],
      10_000,
      () => kp!.stdout(),
    );
    expect(failed).toMatchObject({ level: 'error', file: cfg.path('keys.yaml') });
    expect(String(failed.msg)).toMatch(/keys\.yaml:\d+:\d+: /);
    expect(await status(proxy, DEMO_KEYS.deploy.key)).toBe(200);

    const key = newKey();
    cfg.write('keys.yaml', `${good.trimEnd()}\n${keyEntry(key, 'joe', 'after-hup', ['scope: inherit'])}\n`);
    kp.child.kill('SIGHUP');
    await waitFor(async () => (await status(proxy, key.key)) === 200, 10_000);
  });
});
