import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { MAIN, POLICY, edit, writeFixture, type Fixture } from '../config/fixtures.js';

const REPO = resolve(import.meta.dirname, '../../..');
const CONFIG = resolve(REPO, 'config/keygate.yaml');

/** Demo keys of config/keys.yaml. */
const MONITORING = 'DT7nOCBZHjkw'; // joe, restricted: compute read /v2/*/servers/**
const DEPLOY = 'ZzPjRE9uyI9s'; // joe, inherit, deny compute DELETE /**
const ALICE = 'J5fIC0OTO4Co'; // alice, inherit, sourceIPs 127.0.0.0/8 and ::1

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command in this process, through the same `main` the binary calls, with its
 * output captured: argv in, exit code and text out. (Spawning the binary is left to the
 * integration tests; here it only cost time.)
 */
async function keygate(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const line = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);
  const code = await main(args, {
    out: (text) => void (stdout += line(text)),
    err: (text) => void (stderr += line(text)),
    env: { ...process.env, NO_COLOR: '1' },
    now: () => Date.now(),
  });
  return { code, stdout, stderr };
}

/** A fixed clock, so expiry in the example config never changes these answers. */
const AT = ['--at', '2026-12-01T00:00:00Z'];

async function explainJson(...args: string[]): Promise<{ code: number; body: Record<string, unknown> }> {
  const run = await keygate('explain', '-c', CONFIG, '--json', ...(args.includes('--at') ? [] : AT), ...args);
  return { code: run.code, body: JSON.parse(run.stdout) as Record<string, unknown> };
}

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

describe('keygate (no command)', () => {
  it.each([
    { desc: 'no arguments is a usage error', args: [], code: 2 },
    { desc: '--help succeeds', args: ['--help'], code: 0 },
    { desc: 'an unknown command is a usage error', args: ['frobnicate'], code: 2 },
    { desc: 'an unknown option is a usage error', args: ['check', '-c', CONFIG, '--verbose'], code: 2 },
  ])('$desc (exit $code)', async ({ args, code }) => {
    expect((await keygate(...args)).code).toBe(code);
  });
});

describe('keygate check', () => {
  it('exits 0 on the example config', async () => {
    const run = await keygate('check', '-c', CONFIG);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok: 2 service\(s\), \d+ user\(s\), \d+ key\(s\), \d+ guardrail\(s\)/);
    expect(run.stderr).toBe('');
  });

  it('exits 1 on a bad file and names file:line:col on stderr', async () => {
    fixture = writeFixture({ 'policy.yaml': edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]') });
    const run = await keygate('check', '-c', fixture.mainFile);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${fixture.path('policy.yaml')}:8:28:`);
    expect(run.stdout).toBe('');
  });

  it('reports every error at once', async () => {
    const policy = edit(edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]'), 'path: "/**"', 'path: "/a*"');
    fixture = writeFixture({ 'policy.yaml': policy });
    const run = await keygate('check', '-c', fixture.mainFile);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${fixture.path('policy.yaml')}:8:28:`);
    expect(run.stderr).toContain(`${fixture.path('policy.yaml')}:3:43:`);
  });

  it('fails on an invalid shadow candidate (which a serving keygate would ignore) and names it', async () => {
    fixture = writeFixture({
      'keygate.yaml': `${MAIN}shadow: { policy: ./policy.next.yaml }\n`,
      'policy.next.yaml': edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]'),
    });
    const run = await keygate('check', '-c', fixture.mainFile);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`shadow: ${fixture.path('policy.next.yaml')}:8:28:`);
    fixture.cleanup();
    fixture = writeFixture({ 'keygate.yaml': `${MAIN}shadow: { policy: ./policy.next.yaml }\n`, 'policy.next.yaml': POLICY });
    const ok = await keygate('check', '-c', fixture.mainFile);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`shadow candidate: ${fixture.path('policy.next.yaml')}`);
  });

  it('prints errors as JSON with --json', async () => {
    fixture = writeFixture({ 'policy.yaml': edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]') });
    const run = await keygate('check', '-c', fixture.mainFile, '--json');
    expect(run.code).toBe(1);
    const body = JSON.parse(run.stdout) as { ok: boolean; errors: { file: string; line: number; col: number }[] };
    expect(body.ok).toBe(false);
    expect(body.errors.map((e) => [e.file, e.line, e.col])).toEqual([[fixture.path('policy.yaml'), 8, 28]]);
  });

  it('exits 0 with a warning for a key whose user is not in the policy', async () => {
    fixture = writeFixture({ 'policy.yaml': edit(POLICY, '  joe:', '  joseph:') });
    const run = await keygate('check', '-c', fixture.mainFile);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`warning: ${fixture.path('keys.yaml')}:2:5:`);
  });

  it('exits 1 when the main file does not exist', async () => {
    expect((await keygate('check', '-c', '/nonexistent/keygate.yaml')).code).toBe(1);
  });
});

describe('keygate explain', () => {
  it('allows a restricted key within its scope and names both rules', async () => {
    const { code, body } = await explainJson('--key', MONITORING, '--method', 'GET', '--path', '/compute/v2/p1/servers/s1');
    expect(code).toBe(0);
    expect(body).toMatchObject({ decision: 'allow', reason: 'allow', step: 7, service: 'compute', path: '/v2/p1/servers/s1' });
    expect(body.rule).toMatchObject({ text: 'compute GET,HEAD /v2/*/servers/**' });
    expect((body.rule as { source: string }).source).toMatch(/key DT7nOCBZHjkw allow rule 1 at .*config\/keys\.yaml:\d+:\d+$/);
    expect(body.userRule).toMatchObject({ text: 'compute * /v2/*/servers/**' });
    expect(body.rateLimits).toEqual([
      expect.objectContaining({ scope: 'key', owner: MONITORING, name: 'scraper', rate: '20/s', burst: 40, service: '*' }),
    ]);
  });

  it("names the rate limits an allowed request meets: the user's shared bucket, or none", async () => {
    expect((await explainJson('--key', ALICE, '--method', 'GET', '--path', '/identity/v3/users')).body.rateLimits).toEqual([
      expect.objectContaining({ scope: 'user', owner: 'alice', name: 'standard', rate: '100/s', burst: 200 }),
    ]);
    expect((await explainJson('--key', DEPLOY, '--method', 'GET', '--path', '/compute/v2/x')).body.rateLimits).toEqual([]);
    const run = await keygate(
      'explain',
      '-c',
      CONFIG,
      ...AT,
      '--key',
      MONITORING,
      '--method',
      'GET',
      '--path',
      '/compute/v2/p1/servers/s1',
    );
    expect(run.stdout).toContain('limits:   key DT7nOCBZHjkw: "scraper" 20/s, burst 40');
  });

  it.each([
    {
      desc: 'a restricted key outside its allow rules',
      key: MONITORING,
      method: 'POST',
      path: '/compute/v2/p1/servers/s1',
      reason: 'key_scope_denied',
      step: 6,
      rule: undefined,
    },
    {
      desc: 'an inherit key on its deny rule',
      key: DEPLOY,
      method: 'DELETE',
      path: '/compute/v2/p1/servers/s1',
      reason: 'key_deny_rule',
      step: 6,
      rule: 'compute DELETE /**',
    },
    {
      desc: "a write outside the user's roles",
      key: DEPLOY,
      method: 'POST',
      path: '/compute/v2/p1/images',
      reason: 'user_denied',
      step: 5,
      rule: undefined,
    },
    {
      desc: 'a guarded route',
      key: ALICE,
      method: 'POST',
      path: '/identity/v3/users/u1/credentials/c1',
      reason: 'guardrail',
      step: 7,
      rule: 'identity POST,PUT,PATCH,DELETE /v3/users/*/credentials/**',
    },
    { desc: 'a path no service routes', key: DEPLOY, method: 'GET', path: '/computers/x', reason: 'no_route', step: 1, rule: undefined },
    { desc: 'an unsafe path', key: DEPLOY, method: 'GET', path: '/compute/v2/../x', reason: 'bad_target', step: 0, rule: undefined },
  ])('denies $desc: $reason at step $step (exit 1)', async ({ key, method, path, reason, step, rule }) => {
    const { code, body } = await explainJson('--key', key, '--method', method, '--path', path);
    expect(code).toBe(1);
    expect(body).toMatchObject({ decision: 'deny', reason, step });
    if (rule !== undefined) expect(body.rule).toMatchObject({ text: rule });
  });

  it('checks sourceIPs against --source-ip', async () => {
    const { body } = await explainJson('--key', ALICE, '--method', 'GET', '--path', '/identity/v3/users', '--source-ip', '10.0.0.1');
    expect(body).toMatchObject({ decision: 'deny', reason: 'source_ip_not_allowed', step: 3 });
  });

  it('checks expiry at --at', async () => {
    const { body } = await explainJson('--key', DEPLOY, '--method', 'GET', '--path', '/compute/v2/x', '--at', '2030-06-30T00:00:00Z');
    expect(body).toMatchObject({ decision: 'deny', reason: 'user_expired', step: 4 });
  });

  it("takes --path as the service's own path with --service", async () => {
    const { code, body } = await explainJson(
      '--key',
      MONITORING,
      '--method',
      'HEAD',
      '--service',
      'compute',
      '--path',
      '/v2/p1/servers/s1',
    );
    expect(code).toBe(0);
    expect(body).toMatchObject({ decision: 'allow', service: 'compute', path: '/v2/p1/servers/s1' });
  });

  it('prints a human explanation without --json', async () => {
    const run = await keygate('explain', '-c', CONFIG, ...AT, '--key', DEPLOY, '--method', 'DELETE', '--path', '/compute/v2/p1/servers/s1');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('DENY (403 key_deny_rule)');
    expect(run.stdout).toContain('compute DELETE /**');
  });

  it.each([
    { desc: 'an unknown key id', args: ['--key', 'NoSuchKey123', '--method', 'GET', '--path', '/compute/x'], code: 1 },
    { desc: 'an unknown --service', args: ['--key', DEPLOY, '--method', 'GET', '--service', 'storage', '--path', '/x'], code: 1 },
    { desc: 'a missing --method', args: ['--key', DEPLOY, '--path', '/compute/x'], code: 2 },
    { desc: 'a missing --key', args: ['--method', 'GET', '--path', '/compute/x'], code: 2 },
    { desc: 'a bad --at', args: ['--key', DEPLOY, '--method', 'GET', '--path', '/compute/x', '--at', 'soon'], code: 2 },
  ])('exits $code on $desc, with the error on stderr', async ({ args, code }) => {
    const run = await keygate('explain', '-c', CONFIG, ...args);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toBe('');
  });

  it('reports a usage error (exit 2) before loading an invalid config', async () => {
    fixture = writeFixture({ 'policy.yaml': edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]') });
    expect((await keygate('explain', '-c', fixture.mainFile, '--key', DEPLOY)).code).toBe(2);
    expect((await keygate('explain', '-c', fixture.mainFile, '--key', DEPLOY, '--method', 'GET', '--path', '/x')).code).toBe(1);
  });
});

describe('keygate permissions', () => {
  it("shows a restricted key's effective rules as text", async () => {
    const run = await keygate('permissions', '-c', CONFIG, MONITORING);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('scope: restricted');
    expect(run.stdout).toContain('+ compute GET,HEAD /v2/*/servers/**');
    // a compute reader is not shown the identity guardrail: it cannot touch this key (issue 14)
    expect(run.stdout).not.toContain('guardrail');
    expect(run.stdout).not.toContain('/v3/users/*/credentials/**');
    expect(run.stdout).toContain('~ key DT7nOCBZHjkw: "scraper" 20/s, burst 40');
  });

  it('prints JSON with --json', async () => {
    const run = await keygate('permissions', '-c', CONFIG, DEPLOY, '--json');
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ id: DEPLOY, user: 'joe', scope: 'inherit', state: 'active', roles: ['compute-admin', 'reader'] });
    expect(body.allow).toEqual([
      { service: 'compute', method: '*', path: '/v2/*/servers/**', region: '*', from: ['role compute-admin rule 1'] },
      { service: '*', method: 'GET,HEAD', path: '/**', region: '*', from: ['role reader rule 1'] },
    ]);
    expect(body.deny).toEqual([{ service: 'compute', method: 'DELETE', path: '/**', region: '*', from: `key ${DEPLOY} deny rule 1` }]);
  });

  it.each([
    { desc: 'an unknown key id', args: ['NoSuchKey123'], code: 1 },
    { desc: 'a missing key id', args: [], code: 2 },
    { desc: 'two key ids', args: [DEPLOY, MONITORING], code: 2 },
  ])('exits $code on $desc', async ({ args, code }) => {
    const run = await keygate('permissions', '-c', CONFIG, ...args);
    expect(run.code).toBe(code);
    expect(run.stderr).not.toBe('');
  });
});
