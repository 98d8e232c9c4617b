import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey, type TestKey } from '../helpers/keys.js';
import { kubeletWrite } from '../helpers/kubeletVolume.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * `keys: [./keys.d/]` on a running keygate: keys files that come and go are applied
 * live, whether written by a tool or projected by kubelet (several Secrets in one
 * directory); an id in two files fails the reload and the last good keys keep serving.
 */

const PATH = '/compute/v2/p1/servers/42';

let stack: { upstream: TestUpstream; cfg: TempConfig; kg: RunningKeygate } | undefined;
afterEach(async () => {
  await stack?.kg.close();
  await stack?.upstream.close();
  stack?.cfg.cleanup();
  stack = undefined;
});

/** The example config with its keys.yaml moved into keys.d/ (as demo.yaml, or projected by kubelet). */
async function start(project: boolean): Promise<{ cfg: TempConfig; kg: RunningKeygate }> {
  const upstream = await startUpstream();
  const cfg = tempConfig(upstream.origin, (m) =>
    appendTopLevel(m.replace('keys: [./keys.yaml]', 'keys: [./keys.d/]'), 'reload: { interval: 300ms, debounce: 20ms }'),
  );
  if (project) kubeletWrite(cfg.path('keys.d'), { 'demo.yaml': cfg.read('keys.yaml') });
  else {
    mkdirSync(cfg.path('keys.d'));
    renameSync(cfg.path('keys.yaml'), cfg.path('keys.d/demo.yaml'));
  }
  const kg = await startKeygate(cfg.mainFile);
  stack = { upstream, cfg, kg };
  return { cfg, kg };
}

async function status(kg: RunningKeygate, key: string): Promise<number> {
  const res = await fetch(`${kg.url()}${PATH}`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

const keysFile = (...keys: TestKey[]): string =>
  `keys:\n${keys.map((k) => keyEntry(k, 'joe', `k-${k.id}`, ['scope: inherit'])).join('\n')}\n`;

describe('a keys directory on a running keygate', () => {
  it('a file that arrives is applied, one that leaves is dropped; a duplicate id keeps the last good keys', async () => {
    const { cfg, kg } = await start(false);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
    const key = newKey();
    cfg.write('keys.d/team.yaml', keysFile(key));
    await waitFor(async () => (await status(kg, key.key)) === 200);
    const failuresBefore = kg.logs().filter((l) => l.event === 'reload_failed').length;
    const other = newKey();
    cfg.write('keys.d/twin.yaml', keysFile(other, key));
    await waitFor(() => kg.logs().filter((l) => l.event === 'reload_failed').length > failuresBefore || undefined);
    const failed = kg
      .logs()
      .filter((l) => l.event === 'reload_failed')
      .at(-1)!;
    expect(failed).toMatchObject({ file: cfg.path('keys.d/twin.yaml') });
    expect(String(failed.msg)).toContain(cfg.path('keys.d/team.yaml'));
    expect(await status(kg, key.key)).toBe(200);
    expect(await status(kg, other.key)).toBe(401);
    rmSync(cfg.path('keys.d/twin.yaml'));
    rmSync(cfg.path('keys.d/team.yaml'));
    await waitFor(async () => (await status(kg, key.key)) === 401);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
  });

  it('several Secrets projected into one directory: a Secret added by kubelet is applied, one removed is dropped', async () => {
    const { cfg, kg } = await start(true);
    const demo = cfg.read('keys.d/demo.yaml');
    const key = newKey();
    kubeletWrite(cfg.path('keys.d'), { 'demo.yaml': demo, 'team.yaml': keysFile(key) });
    await waitFor(async () => (await status(kg, key.key)) === 200);
    kubeletWrite(cfg.path('keys.d'), { 'demo.yaml': demo });
    await waitFor(async () => (await status(kg, key.key)) === 401);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
  });
});
