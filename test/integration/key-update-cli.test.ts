import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';

/** keygate key update ID, as a child process on a copy of the example config. */

const { id: MON } = DEMO_KEYS.monitoring;
const { id: DEPLOY } = DEMO_KEYS.deploy;
let cfg: TempConfig;
beforeAll(() => void (cfg = tempConfig('http://127.0.0.1:3000')));
afterAll(() => cfg.cleanup());

const keygate = (...args: string[]): ReturnType<typeof runCli> => runCli(['key', ...args, '-c', cfg.mainFile]);
/** The same CLI in-process (no spawn) for the table of refusals: only the exit code matters there. */
const inProcess = (...args: string[]): Promise<number> =>
  main(['key', ...args, '-c', cfg.mainFile], { out: () => undefined, err: () => undefined, env: {}, now: Date.now });
async function show(id: string): Promise<Record<string, unknown>> {
  const out: string[] = [];
  await main(['key', 'show', id, '--json', '-c', cfg.mainFile], {
    out: (t) => void out.push(t),
    err: () => undefined,
    env: {},
    now: Date.now,
  });
  return JSON.parse(out.join('')) as Record<string, unknown>;
}

describe('key update', () => {
  it('sets name, comment, expiry, source IPs and deny rules in place, keeping the comments and the other entries', async () => {
    const before = cfg.read('keys.yaml');
    const run = keygate(
      'update',
      MON,
      '--name',
      'grafana',
      '--comment',
      'scraper, team obs',
      '--expires',
      '2030-01-01',
      '--source-ip',
      '10.0.0.0/8',
      '--source-ip',
      '::1',
      '--deny',
      'compute GET /v2/*/servers/secret/**',
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`Updated key ${MON} "grafana"`);
    const after = cfg.read('keys.yaml');
    expect(after).toContain('# 20/s, burst 40 (policy.yaml)'); // the comment inside the entry
    expect(after.split('\n').slice(0, 2)).toEqual(before.split('\n').slice(0, 2)); // the header comment
    expect(after.slice(after.indexOf(`- id: ${DEPLOY}`))).toBe(before.slice(before.indexOf(`- id: ${DEPLOY}`)));
    expect(await show(MON)).toMatchObject({
      name: 'grafana',
      comment: 'scraper, team obs',
      expires: '2030-01-01T00:00:00Z',
      sourceIPs: ['10.0.0.0/8', '::1'],
      deny: ['compute GET /v2/*/servers/secret/**'],
      scope: 'restricted',
      state: 'active',
    });
  });

  it('--json; --inherit drops the allow rules; never/any/none/"" remove fields', async () => {
    const run = keygate(
      'update',
      MON,
      '--inherit',
      '--expires',
      'never',
      '--source-ip',
      'any',
      '--deny',
      'none',
      '--comment',
      '',
      '--json',
    );
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual({
      id: MON,
      action: 'updated',
      changed: ['comment', 'expires', 'sourceIPs', 'scope', 'allow', 'deny'],
      file: cfg.path('keys.yaml'),
      warnings: [],
    });
    expect(await show(MON)).toMatchObject({ scope: 'inherit', allow: [], deny: [], expires: null, sourceIPs: null, comment: null });
    const again = JSON.parse(keygate('update', MON, '--inherit', '--json').out) as { action: string };
    expect(again.action).toBe('unchanged');
  });

  it('refuses bad input and changes nothing: unknown service (exit 1), misspelt method, past expiry, nothing to change (exit 2)', async () => {
    const before = cfg.read('keys.yaml');
    const service = keygate('update', MON, '--allow', 'computr GET /v2/**');
    expect(service.code).toBe(1);
    expect(service.err).toContain('did you mean "compute"?');
    const cases = [
      ['--allow', 'compute reed /v2/**'],
      ['--expires', '2001-01-01'],
      ['--source-ip', '10.0.0.0/33'],
      ['--not-before', '2031-01-01', '--expires', '2030-01-01'],
      [],
    ];
    for (const args of cases) expect(await inProcess('update', MON, ...args), args.join(' ')).toBe(2);
    expect(await inProcess('update', 'ZZZZZZZZZZZZ', '--name', 'x')).toBe(1);
    expect(cfg.read('keys.yaml')).toBe(before);
  });
});
