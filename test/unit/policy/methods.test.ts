import { describe, expect, it } from 'vitest';
import { compileMethods, intersectMethods, methodsText, type MethodSet } from '../../../src/policy/methods.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { request, rule } from './build.js';

function methods(spec: string | string[] | undefined): MethodSet {
  const m = compileMethods(spec);
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
    { desc: 'an extension method is kept as written', spec: 'PROPFIND', expected: ['PROPFIND'] },
    { desc: 'names are case-sensitive (RFC 9110)', spec: 'get', expected: ['get'] },
  ])('$desc', ({ spec, expected }) => {
    expect(sorted(methods(spec))).toEqual(expected);
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
