import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_KEYS, REPO, tempConfig, type TempConfig } from '../helpers/config.js';

/** Which config a command works on when -c is left out, and the bundled example staying as shipped. */

const BIN = join(REPO, 'bin/keygate.js');

function keygate(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number | null; out: string; err: string } {
  const env = { ...process.env, KEYGATE_CONFIG: '', ...options.env };
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: options.cwd ?? REPO, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let cfg: TempConfig | undefined;
afterEach(() => {
  cfg?.cleanup();
  cfg = undefined;
});

describe('-c is optional', () => {
  it('uses $KEYGATE_CONFIG', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    const run = keygate(['key', 'list', '--json'], { env: { KEYGATE_CONFIG: cfg.mainFile } });
    expect(run.code, run.err).toBe(0);
    expect((JSON.parse(run.out) as { file: string }[])[0].file).toBe(cfg.path('keys.yaml'));
  });

  it('then ./keygate.yaml', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    const run = keygate(['check'], { cwd: cfg.dir });
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^ok: /);
  });

  it('-c wins over $KEYGATE_CONFIG', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    const run = keygate(['check', '-c', cfg.mainFile], { env: { KEYGATE_CONFIG: '/nonexistent/keygate.yaml' } });
    expect(run.code, run.err).toBe(0);
  });

  it('with neither, the usage error names both (exit 2)', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    const run = keygate(['key', 'list'], { cwd: cfg.path('secrets') });
    expect(run.code).toBe(2);
    expect(run.err).toContain('KEYGATE_CONFIG');
    expect(run.err).toContain('./keygate.yaml');
  });
});

describe('the bundled example config/', () => {
  it('key commands refuse to edit it (exit 1), say how to work on a copy, and change nothing', () => {
    const before = readFileSync(join(REPO, 'config/keys.yaml'), 'utf8');
    for (const args of [
      ['key', 'create', '-c', 'config/keygate.yaml', '--user', 'joe', '--name', 'x', '--read-only'],
      ['key', 'revoke', '-c', 'config/keygate.yaml', DEMO_KEYS.monitoring.id],
      ['key', 'delete', '-c', join(REPO, 'config/keygate.yaml'), DEMO_KEYS.deploy.id],
    ]) {
      const run = keygate(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.err).toMatch(/bundled example.*\n.*cp -r config\/\. \/tmp\/keygate-demo\//);
    }
    expect(readFileSync(join(REPO, 'config/keys.yaml'), 'utf8')).toBe(before);
  });

  it('read-only commands still work on it', () => {
    expect(keygate(['check', '-c', 'config/keygate.yaml']).code).toBe(0);
    expect(keygate(['permissions', '-c', 'config/keygate.yaml', DEMO_KEYS.monitoring.id]).code).toBe(0);
  });
});
