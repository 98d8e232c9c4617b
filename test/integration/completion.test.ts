import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { DEMO_KEYS, REPO, tempConfig, type TempConfig } from '../helpers/config.js';

/** `keygate completion bash`, sourced into a real bash that completes command lines with the real CLI on PATH. */

let cfg: TempConfig;
let bin: string;
let script: string;
beforeAll(() => {
  cfg = tempConfig('http://127.0.0.1:3000');
  bin = mkdtempSync(join(tmpdir(), 'keygate-bin-'));
  writeFileSync(join(bin, 'keygate'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin/keygate.js')}" "$@"\n`);
  chmodSync(join(bin, 'keygate'), 0o755);
  const run = runCli(['completion', 'bash']);
  expect(run.code, run.err).toBe(0);
  script = join(bin, 'keygate.bash');
  writeFileSync(script, run.out);
});
afterAll(() => {
  cfg.cleanup();
  rmSync(bin, { recursive: true, force: true });
});

/** Completes each command line (the word under the cursor is the last one) in one bash; one line of candidates each. */
function complete(lines: readonly string[]): string[][] {
  const body = lines
    .map((line) => {
      const words = line.split(' ');
      const quoted = words.map((w) => `'${w}'`).join(' ');
      return `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _keygate; echo "\${COMPREPLY[*]}"`;
    })
    .join('\n');
  const r = spawnSync('bash', ['--norc', '-c', `source '${script}'\n${body}`], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, KEYGATE_CONFIG: cfg.mainFile },
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => (l === '' ? [] : l.split(' ')));
}

describe('keygate completion bash', () => {
  it('completes commands, key subcommands, each command’s own options, key ids (from $KEYGATE_CONFIG or -c) and files', () => {
    const [commands, subs, createFlags, listFlags, ids, idsFromC, explainKey, shells] = complete([
      'keygate ke',
      'keygate key r',
      'keygate key create --ex',
      'keygate key list --',
      'keygate key show ',
      `keygate key revoke -c ${cfg.mainFile} J`,
      'keygate explain --key Z',
      'keygate completion ',
    ]);
    expect(commands).toEqual(['key']);
    expect(subs.sort()).toEqual(['revoke', 'rotate']);
    expect(createFlags).toEqual(['--expires']);
    expect(listFlags).toEqual(['--config', '--user', '--state', '--unused', '--sort', '--json', '--help']);
    expect(ids.sort()).toEqual(
      Object.values(DEMO_KEYS)
        .map((k) => k.id)
        .sort(),
    );
    expect(idsFromC).toEqual([DEMO_KEYS.aliceAdmin.id]);
    expect(explainKey).toEqual([DEMO_KEYS.deploy.id]);
    expect(shells).toEqual(['bash', 'zsh']);
  });

  it('zsh gets the same completion through bashcompinit; an unknown shell is a usage error', () => {
    const zsh = runCli(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.out).toMatch(/^#compdef keygate\n/);
    expect(zsh.out).toContain('bashcompinit');
    expect(zsh.out).toContain('complete -F _keygate keygate');
    expect(runCli(['completion', 'fish']).code).toBe(2);
  });
});
