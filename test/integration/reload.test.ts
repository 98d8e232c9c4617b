import { readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS, tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey, type TestKey } from '../helpers/keys.js';
import { kubeletWrite } from '../helpers/kubeletVolume.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { parseExposition, valueOf } from '../helpers/promText.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Hot reload (SPEC §7) with real files, a real keygate and a real upstream: every way a
 * file really changes, what a reload must apply live, and that an invalid file keeps
 * the last good config serving.
 */

const PATH = '/compute/v2/p1/servers/42';
const FAST_RELOAD = 'reload: { interval: 300ms, debounce: 20ms }';

interface Env {
  upstream: TestUpstream;
  cfg: TempConfig;
  kg: RunningKeygate;
}

let env: Env | undefined;
afterEach(async () => {
  await env?.kg.close();
  await env?.upstream.close();
  env?.cfg.cleanup();
  env = undefined;
});

async function start(edit: (main: string) => string = (m) => m, prepare: (cfg: TempConfig) => void = () => {}): Promise<Env> {
  const upstream = await startUpstream();
  const cfg = tempConfig(upstream.origin, (m) => appendTopLevel(edit(m), FAST_RELOAD));
  prepare(cfg);
  const kg = await startKeygate(cfg.mainFile);
  env = { upstream, cfg, kg };
  return env;
}

async function status(kg: RunningKeygate, key: string, path = PATH): Promise<number> {
  const res = await fetch(`${kg.url()}${path}`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

async function reloadsTotal(kg: RunningKeygate, result: 'success' | 'failure'): Promise<number> {
  const text = await (await fetch(`${kg.url('admin')}/metrics`)).text();
  return valueOf(parseExposition(text), 'keygate_config_reloads_total', { result }) ?? NaN;
}

function logsOf(kg: RunningKeygate, event: string): Record<string, unknown>[] {
  return kg.logs().filter((l) => l.event === event);
}

/** keys.yaml of the example config plus `extra` entries. */
function keysWith(cfg: TempConfig, ...extra: string[]): string {
  return `${cfg.read('keys.yaml').trimEnd()}\n${extra.join('\n')}\n`;
}

const inherit = (key: TestKey, user = 'joe', fields: string[] = []): string =>
  keyEntry(key, user, `k-${key.id}`, ['scope: inherit', ...fields]);

describe('hot reload: each way a file changes', () => {
  const ways: { name: string; write: (cfg: TempConfig, name: string, text: string) => void }[] = [
    { name: 'written in place (an editor)', write: (cfg, name, text) => writeFileSync(cfg.path(name), text) },
    { name: 'a temp file renamed over it (keygate key, most tools)', write: (cfg, name, text) => cfg.write(name, text) },
  ];
  for (const way of ways) {
    it(`keys.yaml ${way.name}: a new key works`, async () => {
      const { cfg, kg } = await start();
      const key = newKey();
      expect(await status(kg, key.key)).toBe(401);
      way.write(cfg, 'keys.yaml', keysWith(cfg, inherit(key)));
      await waitFor(async () => (await status(kg, key.key)) === 200);
      expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
      const reloaded = logsOf(kg, 'reloaded');
      expect(reloaded.at(-1)).toMatchObject({ generation: kg.app.snapshot().generation, changed: [cfg.path('keys.yaml')] });
      expect(await reloadsTotal(kg, 'failure')).toBe(0);
    });
  }

  it('deleted then created again: failed reload keeps serving, recovery when it returns', async () => {
    const { cfg, kg } = await start();
    const original = cfg.read('keys.yaml');
    rmSync(cfg.path('keys.yaml'));
    await waitFor(async () => (await reloadsTotal(kg, 'failure')) === 1);
    expect(logsOf(kg, 'reload_failed')[0]).toMatchObject({ level: 'error', file: cfg.path('keys.yaml'), line: 1, col: 1 });
    expect(String(logsOf(kg, 'reload_failed')[0].msg)).toContain(`${cfg.path('keys.yaml')}:1:1: cannot read file: ENOENT`);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200); // the last good config
    const key = newKey();
    writeFileSync(cfg.path('keys.yaml'), `${original.trimEnd()}\n${inherit(key)}\n`);
    await waitFor(async () => (await status(kg, key.key)) === 200);
    expect(await reloadsTotal(kg, 'failure')).toBe(1);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
  });

  it('a touch that changes no byte does not reload', async () => {
    const { cfg, kg } = await start();
    const generation = kg.app.snapshot().generation;
    utimesSync(cfg.path('keys.yaml'), new Date(), new Date(Date.now() + 10_000));
    writeFileSync(cfg.path('policy.yaml'), cfg.read('policy.yaml')); // same bytes
    const key = newKey(); // a real change afterwards: its reload is the next generation
    cfg.write('keys.yaml', keysWith(cfg, inherit(key)));
    await waitFor(async () => (await status(kg, key.key)) === 200);
    expect(kg.app.snapshot().generation).toBe(generation + 1);
    expect(logsOf(kg, 'reloaded')).toHaveLength(1);
  });

  it('Kubernetes ConfigMap and Secret volumes: ..data swapped exactly as kubelet does', async () => {
    const policyAndKeys = (cfg: TempConfig, extra: string[] = []): Record<string, string> => ({
      'policy.yaml': cfg.read('policy.yaml'),
      'keys.yaml': keysWith(cfg, ...extra),
    });
    const { cfg, kg, upstream } = await start(
      (m) =>
        m
          .replace('policy: ./policy.yaml', 'policy: ./configmap/policy.yaml')
          .replace('keys: [./keys.yaml]', 'keys: [./configmap/keys.yaml]')
          .replace('file: ./secrets/compute.token', 'file: ./secret/token'),
      (c) => {
        kubeletWrite(c.path('configmap'), policyAndKeys(c));
        kubeletWrite(c.path('secret'), { token: 'k8s-token-1\n' }, 0o600);
      },
    );
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
    expect(upstream.seen.at(-1)!.headers.authorization).toBe('Bearer k8s-token-1');

    const key = newKey();
    const before = readlinkSync(cfg.path('configmap/..data'));
    kubeletWrite(cfg.path('configmap'), policyAndKeys(cfg, [inherit(key)]));
    expect(readlinkSync(cfg.path('configmap/..data'))).not.toBe(before);
    await waitFor(async () => (await status(kg, key.key)) === 200);

    kubeletWrite(cfg.path('secret'), { token: 'k8s-token-2\n' }, 0o600);
    await waitFor(
      async () => (await status(kg, DEMO_KEYS.deploy.key)) === 200 && upstream.seen.at(-1)!.headers.authorization === 'Bearer k8s-token-2',
    );

    // A second swap of the same volume: the watch survived the first one.
    kubeletWrite(cfg.path('configmap'), policyAndKeys(cfg));
    await waitFor(async () => (await status(kg, key.key)) === 401);
    expect(await reloadsTotal(kg, 'failure')).toBe(0);
  });
});

describe('hot reload: what applies live', () => {
  it('service-token file rotation: the upstream sees the new token', async () => {
    const { cfg, kg, upstream } = await start();
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
    expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    cfg.write('secrets/compute.token', 'rotated-compute-token\n');
    await waitFor(
      async () =>
        (await status(kg, DEMO_KEYS.deploy.key)) === 200 && upstream.seen.at(-1)!.headers.authorization === 'Bearer rotated-compute-token',
    );
  });

  const victims = newKey();
  const revocations: { desc: string; file: 'keys.yaml' | 'policy.yaml'; edit: (text: string) => string }[] = [
    { desc: 'a revoked key (disabled: true)', file: 'keys.yaml', edit: (t) => `${t.trimEnd()}\n    disabled: true\n` }, // the victim's entry is the last
    { desc: 'a deleted key', file: 'keys.yaml', edit: (t) => t.slice(0, t.indexOf(`  - id: ${victims.id}`)) },
    {
      desc: 'a disabled user',
      file: 'policy.yaml',
      edit: (t) => t.replace('  victim:\n    roles: [reader]', '  victim:\n    roles: [reader]\n    disabled: true'),
    },
    {
      desc: 'an expired user',
      file: 'policy.yaml',
      edit: (t) => t.replace('  victim:\n    roles: [reader]', '  victim:\n    roles: [reader]\n    expires: 2020-01-01T00:00:00Z'),
    },
    { desc: 'a deleted user', file: 'policy.yaml', edit: (t) => t.replace('  victim:\n    roles: [reader]\n', '') },
  ];
  it.each(revocations)('$desc stops working within one reload', async ({ file, edit }) => {
    const { cfg, kg } = await start(undefined, (c) => {
      c.write('policy.yaml', c.read('policy.yaml').replace('\nusers:\n', '\nusers:\n  victim:\n    roles: [reader]\n'));
      c.write('keys.yaml', keysWith(c, inherit(victims, 'victim')));
    });
    expect(await status(kg, victims.key)).toBe(200);
    const generation = kg.app.snapshot().generation;
    const edited = edit(cfg.read(file));
    expect(edited).not.toBe(cfg.read(file));
    cfg.write(file, edited);
    await waitFor(() => kg.app.snapshot().generation > generation || undefined);
    expect(kg.app.snapshot().generation).toBe(generation + 1);
    expect(await status(kg, victims.key)).toBe(401);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);
  });

  it('invalid YAML: the last good config keeps serving, the failure is counted and located; fixing it recovers', async () => {
    const { cfg, kg } = await start();
    const good = cfg.read('policy.yaml');
    cfg.write(
      'policy.yaml',
      good.replace('  joe:\n    roles: [compute-admin, reader]', '  joe:\n    roles: [compute-admin, reader\n    colour: blue'),
    );
    await waitFor(async () => (await reloadsTotal(kg, 'failure')) === 1);
    const failed = logsOf(kg, 'reload_failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f).toMatchObject({ level: 'error', file: cfg.path('policy.yaml') });
      expect(f.line).toBeGreaterThan(1);
      expect(String(f.msg)).toMatch(new RegExp(`^${cfg.path('policy.yaml').replaceAll('.', '\\.')}:\\d+:\\d+: `));
    }
    const metrics = parseExposition(await (await fetch(`${kg.url('admin')}/metrics`)).text());
    expect(valueOf(metrics, 'keygate_config_last_reload_successful')).toBe(0);
    expect(valueOf(metrics, 'keygate_config_generation')).toBe(1);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200);

    // A semantic error (unknown role) is just as invalid.
    cfg.write('policy.yaml', good.replace('roles: [compute-admin, reader]', 'roles: [compute-admin, nosuchrole]'));
    await waitFor(async () => (await reloadsTotal(kg, 'failure')) === 2);
    expect(logsOf(kg, 'reload_failed').at(-1)!.msg).toContain('unknown role "nosuchrole"');

    const key = newKey();
    cfg.write('keys.yaml', keysWith(cfg, inherit(key))); // read again with the fixed policy
    cfg.write('policy.yaml', good);
    await waitFor(async () => (await status(kg, key.key)) === 200);
    const after = parseExposition(await (await fetch(`${kg.url('admin')}/metrics`)).text());
    expect(valueOf(after, 'keygate_config_last_reload_successful')).toBe(1);
    expect(valueOf(after, 'keygate_config_generation')).toBe(kg.app.snapshot().generation);
  });

  it('a changed listen address needs a restart: warned, still serving, the rest applied', async () => {
    const { cfg, kg, upstream } = await start();
    const main = cfg.read('keygate.yaml');
    cfg.write(
      'keygate.yaml',
      main
        .replace('proxy: 127.0.0.1:0', 'proxy: 127.0.0.1:18080')
        .replace('file: ./secrets/compute.token', 'file: ./secrets/identity.token'),
    );
    await waitFor(() => logsOf(kg, 'restart_required')[0]);
    expect(logsOf(kg, 'restart_required')[0]).toMatchObject({ level: 'warn', fields: ['listen.proxy'] });
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(200); // same port as before
    expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.identity}`);
    expect(await reloadsTotal(kg, 'success')).toBe(1);
  });

  it('keygate.yaml pointing at another keys file: the new file is followed, the old one is not', async () => {
    const { cfg, kg } = await start();
    const key = newKey();
    writeFileSync(cfg.path('team-keys.yaml'), `keys:\n${inherit(key)}\n`);
    cfg.write('keygate.yaml', cfg.read('keygate.yaml').replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./team-keys.yaml]'));
    await waitFor(async () => (await status(kg, key.key)) === 200);
    const other = newKey();
    cfg.write('team-keys.yaml', `keys:\n${inherit(key)}\n${inherit(other)}\n`);
    await waitFor(async () => (await status(kg, other.key)) === 200);
    cfg.write('keygate.yaml', cfg.read('keygate.yaml').replace('keys: [./keys.yaml, ./team-keys.yaml]', 'keys: [./keys.yaml]'));
    await waitFor(async () => (await status(kg, key.key)) === 401);
    const generation = kg.app.snapshot().generation;
    cfg.write('team-keys.yaml', 'keys: []\n'); // no longer part of the config
    const marker = newKey();
    cfg.write('keys.yaml', keysWith(cfg, inherit(marker)));
    await waitFor(async () => (await status(kg, marker.key)) === 200);
    expect(kg.app.snapshot().generation).toBe(generation + 1);
  });
});

describe('hot reload: in-flight requests', () => {
  it('a request that started before a swap finishes on the snapshot it started with', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const upstream = await startUpstream((_req, res, seen) => {
      void gate.then(() => res.end(JSON.stringify(seen)));
    });
    const cfg = tempConfig(upstream.origin, (m) => appendTopLevel(m, FAST_RELOAD));
    const kg = await startKeygate(cfg.mainFile);
    env = { upstream, cfg, kg };
    const slow = fetch(`${kg.url()}${PATH}`, { headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}` } });
    await waitFor(() => upstream.seen.length === 1);
    cfg.write('keys.yaml', cfg.read('keys.yaml').replace(/ {2}- id: ZzPjRE9uyI9s[\s\S]*?(?= {2}- id:)/, '')); // delete the key in use
    await waitFor(() => kg.app.snapshot().generation === 2 || undefined);
    release();
    const res = await slow;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { headers: Record<string, string> }).headers['x-keygate-key-id']).toBe(DEMO_KEYS.deploy.id);
    expect(await status(kg, DEMO_KEYS.deploy.key)).toBe(401);
  });
});
