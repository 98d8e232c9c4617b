import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigIssue } from '../../../src/reader/issues.js';
import { loadConfig, type LoadResult } from '../../../src/config/load.js';
import { main } from '../../../src/cli/main.js';
import { KEYS, MAIN, POLICY, edit, writeFixture, type Fixture } from './fixtures.js';

/** Rule methods are validated (RFC 9110 tokens, case-sensitive, custom ones only through extraMethods). */

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function load(files: Record<string, string>): LoadResult {
  fixture = writeFixture(files);
  return loadConfig(fixture.mainFile, { env: {} });
}

function only(result: LoadResult): ConfigIssue {
  expect(result.ok).toBe(false);
  const errors = result.ok ? [] : result.errors;
  expect(errors).toHaveLength(1);
  return { ...errors[0], file: errors[0].file.slice(fixture!.dir.length + 1) };
}

const withExtra = (methods: string): string => edit(MAIN, 'policy: ./policy.yaml', `extraMethods: ${methods}\npolicy: ./policy.yaml`);

describe('methods in rules', () => {
  it.each<{ desc: string; files: Record<string, string>; at: string; hint: string }>([
    { desc: 'a lower-case method in a role', files: { 'policy.yaml': edit(POLICY, 'method: read', 'method: get') }, at: 'policy.yaml:3:31', hint: 'did you mean "GET"?' },
    { desc: 'a misspelt method in a guardrail list', files: { 'policy.yaml': edit(POLICY, 'method: DELETE', 'method: [POST, DELTE]') }, at: 'policy.yaml:11:40', hint: 'did you mean "DELETE"?' },
    { desc: 'a misspelt alias in a key rule', files: { 'keys.yaml': edit(KEYS, 'method: read', 'method: reed') }, at: 'keys.yaml:7:37', hint: 'did you mean "read"?' },
    { desc: 'a custom method not listed', files: { 'keys.yaml': edit(KEYS, 'method: read', 'method: PURGE') }, at: 'keys.yaml:7:37', hint: 'extraMethods' },
  ])('$desc is an error at its position, with a suggestion', ({ files, at, hint }) => {
    const issue = only(load(files));
    expect(`${issue.file}:${issue.line}:${issue.col}`).toBe(at);
    expect(issue.message).toContain(hint);
  });

  it('a custom method listed in extraMethods is accepted, and matches exactly', () => {
    const result = load({ 'keygate.yaml': withExtra('[PURGE, PROPFIND]'), 'keys.yaml': edit(KEYS, 'method: read', 'method: [read, PURGE]') });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.snapshot.extraMethods).toEqual(['PURGE', 'PROPFIND']);
  });

  it('extraMethods entries must be tokens; a standard one is only a warning', () => {
    const bad = only(load({ 'keygate.yaml': withExtra('["NOT A METHOD"]') }));
    expect(bad.message).toMatch(/extraMethods: "NOT A METHOD" is not an HTTP method token/);
    const result = load({ 'keygate.yaml': withExtra('[GET]') });
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.message)).toContain('extraMethods: "GET" is already known; list only custom methods');
  });
});

describe('methods in key create --allow/--deny', () => {
  async function create(...rule: string[]): Promise<{ code: number; err: string }> {
    const err: string[] = [];
    const code = await main(['key', 'create', '-c', fixture!.mainFile, '--user', 'joe', '--name', 'n', ...rule],
      { out: () => undefined, err: (t) => void err.push(t), env: {}, now: () => Date.parse('2026-12-01T00:00:00Z') });
    return { code, err: err.join('\n') };
  }

  it('an unknown method is a usage error with a suggestion, and nothing is written', async () => {
    fixture = writeFixture();
    for (const [flag, rule, hint] of [['--allow', 'compute reed /v2/**', '"read"'], ['--deny', 'compute delete /**', '"DELETE"']]) {
      const run = await create(...(flag === '--deny' ? ['--inherit'] : []), flag, rule);
      expect(run.code, run.err).toBe(2);
      expect(run.err).toContain(`did you mean ${hint}?`);
    }
  });

  it('a method from extraMethods is accepted', async () => {
    fixture = writeFixture({ 'keygate.yaml': withExtra('[PURGE]') });
    const run = await create('--allow', 'compute PURGE /v2/**');
    expect(run.code, run.err).toBe(0);
  });
});
