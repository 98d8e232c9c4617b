import { describe, expect, it } from 'vitest';
import { compileMethods, intersectMethods, methodsText, type MethodSet } from '../../../src/policy/methods.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { request, rule } from './build.js';

function methods(spec: string | string[] | undefined, extra: ReadonlySet<string> = new Set()): MethodSet {
  const m = compileMethods(spec, extra);
  if (m !== null && 'error' in m) throw new Error(m.error);
  return m;
}

const sorted = (m: MethodSet): string[] | null => (m === null ? null : [...m].sort());

describe('compileMethods', () => {
  it.each([
    { desc: 'omitted means any method', spec: undefined, expected: null },
    { desc: '"*" means any method', spec: '*', expected: null },
    { desc: '"*" in a list means any method', spec: ['GET', '*'], expected: null },
    { desc: 'read = GET, HEAD', spec: 'read', expected: ['GET', 'HEAD'] },
    { desc: 'write = POST, PUT, PATCH, DELETE', spec: 'write', expected: ['DELETE', 'PATCH', 'POST', 'PUT'] },
    { desc: 'GET alone is only GET', spec: 'GET', expected: ['GET'] },
    { desc: 'a list unions names and aliases', spec: ['read', 'OPTIONS'], expected: ['GET', 'HEAD', 'OPTIONS'] },
    {
      desc: 'every standard method (RFC 9110 + PATCH)',
      spec: ['CONNECT', 'OPTIONS', 'TRACE', 'PUT'],
      expected: ['CONNECT', 'OPTIONS', 'PUT', 'TRACE'],
    },
    { desc: 'a method listed in extraMethods is kept as written', spec: 'PROPFIND', extra: ['PROPFIND'], expected: ['PROPFIND'] },
    { desc: 'so is a lower-case one, when listed (case-sensitive)', spec: 'purge', extra: ['purge'], expected: ['purge'] },
  ])('$desc', ({ spec, extra, expected }) => {
    expect(sorted(methods(spec, new Set(extra)))).toEqual(expected);
  });

  it.each([
    { desc: 'a lower-case standard method', spec: 'post', suggestion: 'POST', caseHint: true },
    { desc: 'a mixed-case one', spec: 'Get', suggestion: 'GET', caseHint: true },
    { desc: 'a misspelt one', spec: 'DELTE', suggestion: 'DELETE', caseHint: false },
    { desc: 'a misspelt alias', spec: 'reed', suggestion: 'read', caseHint: false },
    { desc: 'an upper-case alias', spec: 'READ', suggestion: 'read', caseHint: false },
    { desc: 'a custom method close to a listed one', spec: 'PROPFIN', extra: ['PROPFIND'], suggestion: 'PROPFIND', caseHint: false },
    { desc: 'a custom method not in extraMethods', spec: 'PROPFIND', suggestion: undefined, caseHint: false },
  ])('rejects $desc, suggesting the closest name', ({ spec, extra, suggestion, caseHint }) => {
    const m = compileMethods(spec, new Set(extra));
    expect(m !== null && 'error' in m).toBe(true);
    const error = (m as { error: string }).error;
    expect(error).toContain(`unknown method "${spec}"`);
    expect(error).toContain('extraMethods');
    if (suggestion) expect(error).toContain(`did you mean "${suggestion}"?`);
    else expect(error).not.toContain('did you mean');
    expect(error.includes('case-sensitive')).toBe(caseHint);
  });

  it("accepts any token when told to ('any': a command-line rule before the config is read)", () => {
    expect(compileMethods('PROPFIND', 'any')).toEqual(new Set(['PROPFIND']));
  });

  it.each([
    { desc: 'an empty list', spec: [] },
    { desc: 'a name with a space', spec: 'GE T' },
    { desc: 'an empty name', spec: '' },
    { desc: 'a name with a slash', spec: 'GET/POST' },
  ])('rejects $desc', ({ spec }) => {
    const m = compileMethods(spec);
    expect(m !== null && 'error' in m).toBe(true);
  });
});

describe('method matching through a rule', () => {
  const admits = (ruleMethod: string, method: string): boolean =>
    new RuleMatcher([rule(`compute ${ruleMethod} /**`)]).match(request({ method })) !== undefined;

  it.each([
    { ruleMethod: 'GET', method: 'GET', match: true },
    { ruleMethod: 'GET', method: 'HEAD', match: false },
    { ruleMethod: 'GET', method: 'get', match: false },
    { ruleMethod: 'read', method: 'HEAD', match: true },
    { ruleMethod: 'read', method: 'POST', match: false },
    { ruleMethod: 'read', method: 'OPTIONS', match: false },
    { ruleMethod: 'write', method: 'DELETE', match: true },
    { ruleMethod: 'write', method: 'GET', match: false },
    { ruleMethod: 'write', method: 'delete', match: false },
    { ruleMethod: '*', method: 'PROPFIND', match: true },
    { ruleMethod: 'POST,PUT', method: 'PUT', match: true },
  ])('rule method $ruleMethod admits $method: $match', ({ ruleMethod, method, match }) => {
    expect(admits(ruleMethod, method)).toBe(match);
  });
});

describe('intersectMethods and methodsText', () => {
  it('intersects sets and treats null as any', () => {
    expect(sorted(intersectMethods(methods('read'), methods(['GET', 'POST'])))).toEqual(['GET']);
    expect(sorted(intersectMethods(null, methods('write')))).toEqual(['DELETE', 'PATCH', 'POST', 'PUT']);
    expect(intersectMethods(null, null)).toBe(null);
    expect(intersectMethods(methods('read'), methods('write'))?.size).toBe(0);
  });

  it('prints * for any method', () => {
    expect(methodsText(null)).toBe('*');
    expect(methodsText(methods('read'))).toBe('GET,HEAD');
  });
});
