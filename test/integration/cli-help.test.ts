import { describe, expect, it } from 'vitest';
import { runCli, runInProcess } from '../helpers/cli.js';

/** Help per command (usage, options, examples; exit 0) and unknown flags that name the valid ones (exit 2). */

const COMMANDS = ['serve', 'check', 'explain', 'permissions', 'demo', 'version', 'jwks', 'completion', 'key'];
const KEY_COMMANDS = ['create', 'list', 'show', 'update', 'revoke', 'enable', 'delete', 'rotate', 'import'];

const inProcess = (...args: string[]): ReturnType<typeof runInProcess> => runInProcess(args);

describe('keygate key create --help (a real process)', () => {
  it('prints that command’s usage, its options and examples on stdout, exit 0', () => {
    const run = runCli(['key', 'create', '--help']);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^usage: keygate key create /);
    expect(run.out).toContain('\n      --user VALUE\n');
    expect(run.out).toContain('--allow VALUE   (repeatable)');
    expect(run.out).toMatch(/\nexamples:\n {2}keygate key create --user joe /);
    expect(run.out).not.toContain('keygate key rotate'); // only this command, not all of `key`
    expect(run.err).toBe('');
  });

  it('an unknown flag names the command’s valid flags and the closest one, exit 2', () => {
    const run = runCli(['key', 'create', '--nme', 'ci']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('unknown option "--nme"; did you mean "--name"?');
    expect(run.err).toContain('(valid options: --config/-c, --user, --name, --read-only, --inherit, --allow, --deny');
    expect(run.err).toContain('keygate key create --help');
    expect(run.out).toBe('');
  });
});

describe('every command', () => {
  const all = [...COMMANDS.map((c) => [c]), ...KEY_COMMANDS.map((c) => ['key', c])].map((path) => [path.join(' '), path] as const);

  it.each(all)('%s: --help and -h print usage and examples, exit 0, whatever else is on the line', async (_, path) => {
    for (const help of ['--help', '-h']) {
      const run = await inProcess(...path, '--bogus', help);
      expect(run.code, run.err).toBe(0);
      expect(run.out).toMatch(new RegExp(`^usage: keygate ${path.join(' ')}`));
      expect(run.out).toContain('\nexamples:\n');
    }
  });

  it.each(all.filter(([name]) => name !== 'key'))('%s: an unknown flag lists the valid ones, exit 2', async (_, path) => {
    const run = await inProcess(...path, '--bogus-flag');
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/unknown option "--bogus-flag" \(valid options: .*--help\)/);
  });

  it('a misspelt command or key command gets a suggestion', async () => {
    expect((await inProcess('key', 'craete')).err).toContain('did you mean "create"?');
  });
});
