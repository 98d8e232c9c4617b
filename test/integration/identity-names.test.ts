import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempConfig, type TempConfig } from '../helpers/config.js';

/**
 * User and key names travel in X-Keygate-* headers: a control character could split a
 * header, so `key create` and `check` refuse it with a clear error and write nothing.
 * (Non-ASCII names are sent percent-encoded: a row of the shared security suite.)
 */
let cfg: TempConfig | undefined;
afterEach(() => {
  cfg?.cleanup();
  cfg = undefined;
});

async function keygate(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: process.env, now: () => Date.now() });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('names with control characters', () => {
  it.each(['evil\r\nX-Admin: 1', 'tab\there', 'bell\u0007', 'c1\u0085'])('key create --name %j: exit 1, nothing written', async (name) => {
    cfg = tempConfig('http://127.0.0.1:9');
    const before = readFileSync(cfg.path('keys.yaml'), 'utf8');
    const run = await keygate(['key', 'create', '-c', cfg.mainFile, '--user', 'joe', '--name', name, '--read-only']);
    expect(run.code).toBe(1);
    expect(run.err).toContain('contains a control character');
    expect(readFileSync(cfg.path('keys.yaml'), 'utf8')).toBe(before);
  });

  it('key create with a non-ASCII name works', async () => {
    cfg = tempConfig('http://127.0.0.1:9');
    const run = await keygate([
      'key',
      'create',
      '-c',
      cfg.mainFile,
      '--user',
      'joe',
      '--name',
      'tägliche Prüfung',
      '--read-only',
      '--json',
    ]);
    expect(run.code, run.err).toBe(0);
    expect(cfg.read('keys.yaml')).toContain('tägliche Prüfung');
  });

  it('check names the file, line and column of a user name with a newline', async () => {
    cfg = tempConfig('http://127.0.0.1:9');
    cfg.write('policy.yaml', cfg.read('policy.yaml').replace('users:\n', 'users:\n  "bad\\nuser":\n    roles: [reader]\n'));
    const run = await keygate(['check', '-c', cfg.mainFile]);
    expect(run.code).toBe(1);
    expect(run.err + run.out).toMatch(/policy\.yaml:\d+:3: user "bad\\nuser" contains a control character/);
  });
});
