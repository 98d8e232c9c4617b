import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';

/** key show, key enable (the way back from revoke) and key list --state, through main() on real files. */

const NOW = Date.parse('2026-12-01T00:00:00Z');
const { id: MON } = DEMO_KEYS.monitoring;

async function keygate(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: {}, now: () => NOW });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let cfg: TempConfig | undefined;
afterEach(() => {
  cfg?.cleanup();
  cfg = undefined;
});
const config = (): string => (cfg = tempConfig('http://127.0.0.1:3000')).mainFile;

describe('key enable', () => {
  it("re-enables a revoked key, keeping the file's comments; the key is active again", async () => {
    const c = config();
    expect((await keygate('key', 'revoke', '-c', c, MON)).code).toBe(0);
    expect(JSON.parse((await keygate('key', 'show', '-c', c, MON, '--json')).out)).toMatchObject({ state: 'disabled', disabled: true });
    const enabled = await keygate('key', 'enable', '-c', c, MON, '--json');
    expect(enabled.code, enabled.err).toBe(0);
    expect(JSON.parse(enabled.out)).toMatchObject({ id: MON, action: 'enabled' });
    expect(JSON.parse((await keygate('key', 'show', '-c', c, MON, '--json')).out)).toMatchObject({ state: 'active', disabled: false });
    expect(cfg!.read('keys.yaml')).toContain('# Written by `keygate key ...`');
  });

  it('on a key that is not disabled changes nothing', async () => {
    const c = config();
    const before = cfg!.read('keys.yaml');
    const run = await keygate('key', 'enable', '-c', c, MON, '--json');
    expect(JSON.parse(run.out)).toMatchObject({ action: 'already_enabled' });
    expect(cfg!.read('keys.yaml')).toBe(before);
  });

  it('an unknown id exits 1', async () => {
    expect((await keygate('key', 'enable', '-c', config(), 'ZZZZZZZZZZZZ')).code).toBe(1);
  });
});

describe('key show', () => {
  it('shows every field but the hash, and what the key can do', async () => {
    const run = await keygate('key', 'show', '-c', config(), MON);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(new RegExp(`^key ${MON} "monitoring" of user joe`));
    expect(run.out).toContain('  + compute GET,HEAD /v2/*/servers/**');
    expect(run.out).not.toMatch(/sha256\$/);
    const json = JSON.parse((await keygate('key', 'show', '-c', cfg!.mainFile, MON, '--json')).out) as Record<string, unknown>;
    expect(json).toMatchObject({ id: MON, user: 'joe', name: 'monitoring', scope: 'restricted', state: 'active' });
    expect(JSON.stringify(json)).not.toContain('sha256$');
  });
});

describe('key list --state', () => {
  it('lists only keys in that state', async () => {
    const c = config();
    await keygate('key', 'revoke', '-c', c, MON);
    const disabled = JSON.parse((await keygate('key', 'list', '-c', c, '--state', 'disabled', '--json')).out) as { id: string }[];
    expect(disabled.map((k) => k.id)).toEqual([MON]);
    const active = JSON.parse((await keygate('key', 'list', '-c', c, '--state', 'active', '--json')).out) as {
      id: string;
      state: string;
    }[];
    expect(active.length).toBe(2);
    expect(active.every((k) => k.state === 'active')).toBe(true);
  });

  it('an unknown state is a usage error (exit 2) with a suggestion', async () => {
    const run = await keygate('key', 'list', '-c', config(), '--state', 'disabeld');
    expect(run.code).toBe(2);
    expect(run.err).toContain('did you mean "disabled"?');
  });
});
