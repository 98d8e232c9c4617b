import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, tempConfig, type TempConfig } from '../helpers/config.js';
import { keyEntry, newKey } from '../helpers/keys.js';

/** `check` in a CI pipeline: without the secrets (--offline), and with warnings failing (--strict). */

function check(cfg: TempConfig, ...flags: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/keygate.js'), 'check', '-c', cfg.mainFile, ...flags], {
    encoding: 'utf8',
    env: { ...process.env, KEYGATE_CONFIG: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let cfg: TempConfig | undefined;
afterEach(() => {
  cfg?.cleanup();
  cfg = undefined;
});

describe('check --offline', () => {
  it('passes without the token files and variables that a plain check needs', () => {
    cfg = tempConfig('http://127.0.0.1:3000', (main) => main.replace('file: ./secrets/identity.token', 'env: KEYGATE_TEST_IDENTITY_TOKEN'));
    rmSync(cfg.path('secrets'), { recursive: true });
    const plain = check(cfg);
    expect(plain.code).toBe(1);
    expect(plain.err).toMatch(/cannot read service token file .*compute\.token/);
    expect(plain.err).toMatch(/KEYGATE_TEST_IDENTITY_TOKEN/);
    const offline = check(cfg, '--offline');
    expect(offline.code, offline.err).toBe(0);
    expect(offline.out).toMatch(/^ok: 2 service\(s\)/);
  });

  it('still checks the references for shape', () => {
    cfg = tempConfig('http://127.0.0.1:3000', (main) => main.replace('file: ./secrets/identity.token', 'env: "NOT A NAME"'));
    const run = check(cfg, '--offline', '--json');
    expect(run.code).toBe(1);
    const body = JSON.parse(run.out) as { ok: boolean; errors: { file: string; line: number; message: string }[] };
    expect(body.ok).toBe(false);
    expect(body.errors).toHaveLength(1);
    const line =
      cfg
        .read('keygate.yaml')
        .split('\n')
        .findIndex((l) => l.includes('NOT A NAME')) + 1;
    expect(body.errors[0]).toMatchObject({ file: cfg.mainFile, line, message: expect.stringContaining('serviceToken.env') });
  });
});

describe('check --strict', () => {
  it('fails on warnings (exit 1, also in --json), where a plain check passes', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    cfg.write('keys.yaml', `${cfg.read('keys.yaml').trimEnd()}\n${keyEntry(newKey(), 'nobody', 'orphan', ['scope: inherit'])}\n`);
    const plain = check(cfg);
    expect(plain.code).toBe(0);
    expect(plain.err).toMatch(/warning: /);
    const strict = check(cfg, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(/--strict/);
    const json = check(cfg, '--strict', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      errors: [],
      warnings: [expect.objectContaining({ file: cfg.path('keys.yaml') })],
    });
  });

  it('passes a config without warnings', () => {
    cfg = tempConfig('http://127.0.0.1:3000');
    expect(check(cfg, '--strict').code).toBe(0);
  });
});
