import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigIssue } from '../../../src/reader/issues.js';
import { loadConfig, type LoadResult } from '../../../src/config/load.js';
import type { RuleQuery } from '../../../src/policy/matcher.js';
import { pathSegments } from '../../../src/policy/pathPattern.js';
import type { CompiledRule } from '../../../src/policy/rules.js';
import { BAD_FILES } from './badFiles.js';
import { KEYS, MAIN, POLICY, edit, writeFixture, type Fixture } from './fixtures.js';

const REPO = resolve(import.meta.dirname, '../../..');

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function load(files: Record<string, string | null>, env: NodeJS.ProcessEnv = {}): LoadResult {
  fixture = writeFixture(files);
  return loadConfig(fixture.mainFile, { env });
}

function errorsOf(result: LoadResult): readonly ConfigIssue[] {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

/** file (relative to the fixture), line and column of each issue. */
const where = (issues: readonly ConfigIssue[]): string[] =>
  issues.map((i) => `${i.file.startsWith(fixture!.dir) ? i.file.slice(fixture!.dir.length + 1) : i.file}:${i.line}:${i.col}`);

describe('loadConfig: the example config', () => {
  it('loads config/keygate.yaml into a frozen snapshot', () => {
    const result = loadConfig(resolve(REPO, 'config/keygate.yaml'), { env: {} });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const s = result.snapshot;
    expect(Object.isFrozen(s)).toBe(true);
    expect(s.region).toBe('eu-west-1');
    expect(s.services.map((x) => x.name)).toEqual(['compute', 'identity']);
    expect([...s.users.keys()].sort()).toEqual(['alice', 'joe', 'mallory']);
    expect(s.keys.size).toBeGreaterThanOrEqual(3);
    expect(s.keys.byId.get('DT7nOCBZHjkw')?.scope).toBe('restricted');
    expect(s.keys.byId.get('ZzPjRE9uyI9s')?.scope).toBe('inherit');
    expect(s.guardrails.size).toBe(1);
    expect(result.warnings).toEqual([]);
  });

  it('loads the small fixture, trims the token file and resolves paths against the main file', () => {
    const result = load({});
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.snapshot.services[0].serviceToken.value).toBe('service-token');
    expect(result.snapshot.policyFile).toBe(fixture!.path('policy.yaml'));
    expect(result.snapshot.keysFiles).toEqual([fixture!.path('keys.yaml')]);
    expect(result.snapshot.keys.list()[0]).toMatchObject({ file: fixture!.path('keys.yaml'), line: 2, col: 5 });
  });

  it('reads the path-reading flags of a route (off by default) and one trailing dot of its host', () => {
    const plain = load({});
    expect(plain.ok && plain.snapshot.services[0]).toMatchObject({ allowSemicolon: false, allowEmptySegments: false, caseInsensitive: false });
    const main = edit(MAIN, 'stripPrefix: true', 'stripPrefix: true, host: API.example.com., allowSemicolon: true, allowEmptySegments: true, caseInsensitive: true');
    const flagged = load({ 'keygate.yaml': main });
    expect(flagged.ok && flagged.snapshot.services[0]).toMatchObject({ host: 'api.example.com', allowSemicolon: true, allowEmptySegments: true, caseInsensitive: true });
  });

  it('reads a service token from the environment', () => {
    const main = edit(MAIN, 'file: ./compute.token', 'env: COMPUTE_TOKEN');
    const result = load({ 'keygate.yaml': main }, { COMPUTE_TOKEN: ' from-env\n' });
    expect(result.ok && result.snapshot.services[0].serviceToken.value).toBe('from-env');
  });
});


describe('loadConfig: each kind of bad file is one error at the offending node', () => {
  it.each(BAD_FILES)('$desc → $at', ({ files, at, names, env }) => {
    const errors = errorsOf(load(files, env));
    expect(where(errors)).toEqual([at]);
    expect(errors[0].message).toContain(names);
  });
});

describe('loadConfig: every problem at once', () => {
  it('reports all errors of one file and of several files, in one load', () => {
    const keys = `${edit(edit(KEYS, 'method: read', 'method: "GE T"'), '[10.0.0.0/8]', '[nope]')}    colour: red\n    notBefore: 2027-02-30\n`;
    const policy = edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]');
    const errors = errorsOf(load({ 'keys.yaml': keys, 'policy.yaml': policy }));
    expect(where(errors).sort()).toEqual(['keys.yaml:10:5', 'keys.yaml:11:16', 'keys.yaml:7:37', 'keys.yaml:8:17', 'policy.yaml:8:28'].sort());
  });

  it('reports duplicate key ids even when another file has errors too', () => {
    const errors = errorsOf(load({
      'keygate.yaml': edit(MAIN, '[./keys.yaml]', '[./keys.yaml, ./more-keys.yaml]'),
      'more-keys.yaml': KEYS,
      'policy.yaml': edit(POLICY, '2030-06-30T', '2030-02-30T'),
    }));
    expect(where(errors).sort()).toEqual(['more-keys.yaml:2:5', 'policy.yaml:9:14']);
  });

  it('reports a missing field once, at its mapping, with no stray error at 1:1', () => {
    const errors = errorsOf(load({ 'keys.yaml': edit(edit(KEYS, '    user: joe\n', ''), / {4}hash: ".*"\n/.exec(KEYS)![0], '') }));
    expect(where(errors)).toEqual(['keys.yaml:2:5', 'keys.yaml:2:5']);
  });
});

describe('loadConfig: warnings', () => {
  it('treats a key whose user is not in the policy as a warning, not an error', () => {
    const result = load({ 'keys.yaml': edit(KEYS, 'user: joe', 'user: ghost') });
    expect(result.ok).toBe(true);
    expect(where(result.warnings)).toEqual(['keys.yaml:2:5']);
    expect(result.warnings[0]).toMatchObject({ keyId: 'AAAAAAAAAAAA' });
    expect(result.ok && result.snapshot.keys.byId.get('AAAAAAAAAAAA')?.user).toBe('ghost');
  });

  it('warns about a restricted key with no allow rules', () => {
    const result = load({ 'keys.yaml': KEYS.slice(0, KEYS.indexOf('    allow:')) });
    expect(result.ok).toBe(true);
    expect(where(result.warnings)).toEqual(['keys.yaml:2:5']);
  });

  it('accepts a user without roles (it can do nothing)', () => {
    const result = load({ 'policy.yaml': edit(POLICY, 'guardrails:', '  nobody: { disabled: true }\nguardrails:') });
    expect(result.ok && result.snapshot.users.get('nobody')?.roles).toEqual([]);
  });
});

describe('loadConfig: users with the same roles', () => {
  const q = (path: string): RuleQuery => ({ region: 'eu-west-1', service: 'compute', method: 'GET', segments: pathSegments(path) });

  it('share one rule set (one trie for all of them), in the order the roles are listed', () => {
    const users = '  ann: { roles: [compute-admin, reader] }\n  bob: { roles: [reader, compute-admin] }\n  eve: { roles: [reader] }\nguardrails:';
    const result = load({ 'policy.yaml': edit(POLICY, 'guardrails:', users) });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const rulesOf = (name: string): readonly CompiledRule[] => result.snapshot.users.get(name)!.rules.rules;
    expect(rulesOf('ann')).toBe(rulesOf('joe'));
    expect(rulesOf('bob')).not.toBe(rulesOf('joe'));
    expect(rulesOf('eve')).not.toBe(rulesOf('bob'));
    expect(new Set(rulesOf('bob'))).toEqual(new Set(rulesOf('joe')));
    // The first rule listed decides: the order of the roles is part of what is shared.
    const owner = (name: string): string | undefined => result.snapshot.users.get(name)!.rules.match(q('/v2/p1/servers/s1'))?.origin.owner;
    expect([owner('joe'), owner('ann'), owner('bob'), owner('eve')]).toEqual(['role compute-admin', 'role compute-admin', 'role reader', 'role reader']);
  });
});
