import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, REPO, tempConfig, type TempConfig } from '../helpers/config.js';

/**
 * No command ever prints a secret it was given: a whole key string where a key id is
 * expected is used by its id (with a warning that the id suffices), and every message,
 * errors included, is scrubbed. The CLI runs as a child process, as an operator runs it.
 */

const BIN = join(REPO, 'bin/keygate.js');
const { key: KEY, id: ID } = DEMO_KEYS.monitoring;
const SECRET = KEY.slice(`kg_${ID}_`.length);

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function keygate(...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function expectNoSecret(run: Run, secret: string = KEY): void {
  const text = run.out + run.err;
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.slice(-30)); // not even a tail of it
}

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist/cli/main.js'))) throw new Error('run `npm run build` first (npm test does)');
});

let cfg: TempConfig | undefined;
afterEach(() => {
  cfg?.cleanup();
  cfg = undefined;
});
const config = (): TempConfig => (cfg = tempConfig('http://127.0.0.1:3000'));

describe('a whole key string where a key id is expected', () => {
  it.each([
    {
      cmd: 'explain --key',
      args: (c: string) => ['explain', '-c', c, '--key', KEY, '--method', 'GET', '--path', '/compute/v2/p1/servers/1'],
      code: 0,
      out: /decision: ALLOW/,
    },
    {
      cmd: 'explain --key (JSON)',
      args: (c: string) => ['explain', '-c', c, '--key', KEY, '--method', 'POST', '--path', '/compute/v2/p1/servers', '--json'],
      code: 1,
      out: /"key_scope_denied"/,
    },
    { cmd: 'permissions', args: (c: string) => ['permissions', '-c', c, KEY], code: 0, out: new RegExp(`key ${ID} "monitoring"`) },
    { cmd: 'key revoke', args: (c: string) => ['key', 'revoke', '-c', c, KEY], code: 0, out: new RegExp(`Revoked key ${ID}`) },
    { cmd: 'key rotate', args: (c: string) => ['key', 'rotate', '-c', c, KEY], code: 0, out: new RegExp(`Rotated key ${ID}`) },
    { cmd: 'key delete', args: (c: string) => ['key', 'delete', '-c', c, KEY], code: 0, out: new RegExp(`Deleted key ${ID}`) },
  ])('$cmd uses its id, says the id suffices, and never prints the key', ({ args, code, out }) => {
    const run = keygate(...args(config().mainFile));
    expect(run.code, run.err).toBe(code);
    expect(run.out).toMatch(out);
    expect(run.err).toMatch(new RegExp(`warning: .*the key id ${ID} suffices`));
    expectNoSecret(run);
    expect(run.out + run.err).not.toContain(SECRET.slice(0, 20));
  });

  it('key rotate prints the new key (minted here) but never the old one', () => {
    const run = keygate('key', 'rotate', '-c', config().mainFile, KEY);
    const shown = run.out.match(/kg_\w+/g) ?? [];
    expect(shown).toHaveLength(1);
    expect(shown[0]).not.toBe(KEY);
    expect(shown[0]?.startsWith(`kg_${ID}_`)).toBe(true);
    expectNoSecret(run);
  });
});

describe('secrets in failing commands', () => {
  const mangled = `${KEY.slice(0, -1)}${KEY.endsWith('A') ? 'B' : 'A'}`;
  const unknown = `kg_ZZZZZZZZZZZZ_${SECRET}`;
  it.each([
    { desc: 'a key string as a command', args: () => [KEY], code: 2, secret: KEY },
    { desc: 'a key string as an extra argument', args: (c: string) => ['check', '-c', c, KEY], code: 2, secret: KEY },
    {
      desc: 'a mangled key string',
      args: (c: string) => ['explain', '-c', c, '--key', mangled, '--method', 'GET', '--path', '/compute/x'],
      code: 1,
      secret: mangled,
    },
    {
      desc: 'the key string of an unknown key',
      args: (c: string) => ['explain', '-c', c, '--key', unknown, '--method', 'GET', '--path', '/compute/x'],
      code: 1,
      secret: unknown,
    },
    {
      desc: 'a legacy secret as --key',
      args: (c: string) => ['explain', '-c', c, '--key', 'hunter2-legacy-secret-abc', '--method', 'GET', '--path', '/x'],
      code: 2,
      secret: 'hunter2-legacy-secret-abc',
    },
    {
      desc: 'a legacy secret as a key id',
      args: (c: string) => ['key', 'revoke', '-c', c, 'hunter2-legacy-secret-abc'],
      code: 2,
      secret: 'hunter2-legacy-secret-abc',
    },
    { desc: 'a key string as an option value', args: (c: string) => ['key', 'list', '-c', c, '--user', KEY], code: 0, secret: KEY },
  ])('$desc: exit $code, the secret appears nowhere in stdout or stderr', ({ args, code, secret }) => {
    const run = keygate(...args(config().mainFile));
    expect(run.code, run.err).toBe(code);
    expectNoSecret(run, secret);
  });

  it('check quotes no key string pasted into a keys file', () => {
    const c = config();
    c.write('keys.yaml', c.read('keys.yaml').replace(`id: ${ID}`, `id: ${KEY}`));
    for (const run of [keygate('check', '-c', c.mainFile), keygate('check', '-c', c.mainFile, '--json')]) {
      expect(run.code).toBe(1);
      expect(run.out + run.err).toMatch(new RegExp(`kg_${ID}_\\[REDACTED\\]`));
      expectNoSecret(run);
    }
  });
});

describe('duplicate key names for one user', () => {
  it('key create warns when the user already has a key of that name, and check warns too', () => {
    const c = config();
    const run = keygate('key', 'create', '-c', c.mainFile, '--user', 'joe', '--name', 'monitoring', '--read-only', '--json');
    expect(run.code, run.err).toBe(0);
    const created = JSON.parse(run.out) as { id: string; warnings: string[] };
    expect(created.warnings.join('\n')).toMatch(new RegExp(`user joe already has a key named "monitoring" \\(${ID} at `));
    expect(run.err).toMatch(/warning: .*already has a key named "monitoring"/);
    const check = keygate('check', '-c', c.mainFile);
    expect(check.code).toBe(0);
    expect(check.err).toMatch(new RegExp(`keys\\.yaml:\\d+:\\d+: key ${created.id}: user joe already has a key named "monitoring"`));
  });

  it('the same name for two different users is fine', () => {
    const c = config();
    const run = keygate('key', 'create', '-c', c.mainFile, '--user', 'alice', '--name', 'monitoring', '--read-only', '--json');
    expect(run.code, run.err).toBe(0);
    expect((JSON.parse(run.out) as { warnings: string[] }).warnings).toEqual([]);
    expect(keygate('check', '-c', c.mainFile).err).not.toMatch(/already has a key named/);
  });
});
