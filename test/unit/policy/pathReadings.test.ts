import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../../src/policy/decide.js';
import { RuleMatcher, type RuleQuery } from '../../../src/policy/matcher.js';
import { compilePattern, matchesPattern, pathSegments, type PathPattern } from '../../../src/policy/pathPattern.js';
import { LITERAL_READINGS, readingsOf, withoutFormat } from '../../../src/policy/pathReadings.js';
import type { CompiledRule } from '../../../src/policy/rules.js';
import { key, matcher, policy, request, rule, user } from './build.js';

const query = (method: string, path: string, service = 'compute'): RuleQuery => ({
  region: 'eu-west-1',
  service,
  method,
  segments: pathSegments(path),
});
const denies = (ruleText: string, method: string, path: string, service?: string): boolean => {
  const q = query(method, path, service);
  return matcher('deny', [ruleText]).matchAnyReading(q, readingsOf(q.segments)) !== undefined;
};

describe('readingsOf', () => {
  it.each(['/v2/p1/servers/42', '/', '/a', '/v2/p1/servers/-_~', '/.well-known/x', '/x/a.', '/x.y/z'])(
    'allocates nothing for %s (no reading changes it)',
    (path) => {
      expect(readingsOf(pathSegments(path))).toBe(LITERAL_READINGS);
    },
  );

  it.each([
    { path: '/Admin/x', folded: ['admin', 'x'], alternates: undefined, trailingEnd: -1, dropsSegments: false },
    { path: '/items/1/', folded: undefined, alternates: undefined, trailingEnd: 2, dropsSegments: false },
    { path: '/items//1', folded: undefined, alternates: undefined, trailingEnd: -1, dropsSegments: true },
    {
      path: '/admin;jsessionid=X/users',
      folded: ['admin;jsessionid=x', 'users'],
      alternates: [['admin'], undefined],
      trailingEnd: -1,
      dropsSegments: false,
    },
    { path: '/admin.json', folded: undefined, alternates: [['admin']], trailingEnd: -1, dropsSegments: false },
    {
      path: '/a/Admin.JSON/',
      folded: ['a', 'admin.json', ''],
      alternates: [undefined, ['admin'], undefined],
      trailingEnd: 2,
      dropsSegments: false,
    },
    { path: '/admin.json;v=1', folded: undefined, alternates: [['admin.json', 'admin']], trailingEnd: -1, dropsSegments: false },
    { path: '/a/;p/b', folded: undefined, alternates: [undefined, [''], undefined], trailingEnd: -1, dropsSegments: true },
    { path: '/items/1//', folded: undefined, alternates: undefined, trailingEnd: 2, dropsSegments: true },
  ])('$path', ({ path, folded, alternates, trailingEnd, dropsSegments }) => {
    expect(readingsOf(pathSegments(path))).toEqual({ caseInsensitive: false, folded, alternates, trailingEnd, dropsSegments });
  });

  it("carries the service's caseInsensitive flag, even when nothing else changes", () => {
    expect(readingsOf(['a'], true).caseInsensitive).toBe(true);
    expect(readingsOf(['A'], true)).toMatchObject({ caseInsensitive: true, folded: ['a'] });
  });

  it.each([
    ['admin.json', 'admin'],
    ['a.tar.gz', 'a.tar'],
    ['.well-known', undefined],
    ['admin.', undefined],
    ['admin', undefined],
  ])('withoutFormat(%s) = %s', (segment, base) => {
    expect(withoutFormat(segment)).toBe(base);
  });
});

describe('deny rules and guardrails match every reading (issues 21 and 23)', () => {
  it.each([
    { desc: 'lower-cased path', rule: 'compute * /admin/**', method: 'GET', path: '/Admin/x' },
    {
      desc: 'lower-cased path (guardrail shape)',
      rule: 'identity write /v3/users/*/credentials/**',
      method: 'POST',
      path: '/v3/users/u1/Credentials/c1',
      service: 'identity',
    },
    { desc: 'a rule written in upper case', rule: 'compute * /Admin/**', method: 'GET', path: '/admin/x' },
    { desc: 'without a trailing slash', rule: 'compute DELETE /items/*', method: 'DELETE', path: '/items/1/' },
    { desc: 'with repeated slashes merged', rule: 'compute DELETE /items/*', method: 'DELETE', path: '/items//1' },
    { desc: 'with several slashes merged and a trailing one', rule: 'compute DELETE /items/*', method: 'DELETE', path: '/items///1//' },
    { desc: 'GET covers HEAD', rule: 'compute GET /secret/**', method: 'HEAD', path: '/secret/x' },
    { desc: 'a segment without its ;params', rule: 'compute * /admin/**', method: 'GET', path: '/admin;jsessionid=x/users' },
    { desc: 'a ;param-only segment dropped', rule: 'compute * /a/b', method: 'GET', path: '/a/;x/b' },
    { desc: 'the last segment without .ext', rule: 'compute * /admin/**', method: 'GET', path: '/admin.json' },
    { desc: '.ext under a wildcard', rule: 'compute * /v3/users/*/credentials/**', method: 'GET', path: '/v3/users/u1/credentials.xml' },
    { desc: 'all at once', rule: 'compute GET /admin/*', method: 'HEAD', path: '/ADMIN;a=b//Users.json;v=2/' },
    {
      desc: 'a dotted literal, case and trailing slash (not every reading drops .ext)',
      rule: 'compute * /files/report.pdf',
      method: 'GET',
      path: '/Files/Report.PDF/',
    },
    { desc: 'the literal path still', rule: 'compute * /a/b', method: 'GET', path: '/a/b' },
  ])('denies: $desc', ({ rule: text, method, path, service }) => {
    expect(denies(text, method, path, service)).toBe(true);
  });

  it.each([
    { desc: 'another segment name', rule: 'compute * /admin/**', method: 'GET', path: '/admins/x' },
    { desc: 'the name deeper down', rule: 'compute * /admin/**', method: 'GET', path: '/v2/admin' },
    { desc: 'GET does not cover POST', rule: 'compute GET /secret/**', method: 'POST', path: '/secret/x' },
    { desc: 'HEAD does not cover GET', rule: 'compute HEAD /secret/**', method: 'GET', path: '/secret/x' },
    { desc: 'an inner .ext is a name', rule: 'compute * /admin/**', method: 'GET', path: '/admin.json/x' },
    { desc: '`*` never matches an empty segment', rule: 'compute * /a/*', method: 'GET', path: '/a/' },
    { desc: 'another service', rule: 'identity * /admin/**', method: 'GET', path: '/Admin' },
  ])('does not deny: $desc', ({ rule: text, method, path }) => {
    expect(denies(text, method, path)).toBe(false);
  });

  it('keeps allow rules byte for byte (a reading never allows)', () => {
    const m = matcher('allow', ['compute GET /admin/**', 'compute GET /items/*']);
    for (const path of ['/Admin/x', '/items/1/', '/items//1', '/admin.json']) expect(m.match(query('GET', path))).toBe(undefined);
    expect(m.match(query('HEAD', '/admin/x'))).toBe(undefined);
  });

  it('compares allow rules lower-cased on a case-insensitive service, nothing else', () => {
    const m = matcher('allow', ['compute GET /v2/*/Servers/**']);
    const folded = (path: string): boolean => {
      const q = query('GET', path);
      return m.matchFolded(q, readingsOf(q.segments, true).folded ?? q.segments) !== undefined;
    };
    expect(folded('/V2/p1/servers/x')).toBe(true);
    expect(folded('/v2/p1/servers/x')).toBe(true);
    expect(folded('/v2/p1/serverz/x')).toBe(false);
    expect(folded('/v2//p1/servers/x')).toBe(false);
  });

  it('names the reading in the decision detail when only a reading matches', () => {
    const p = policy([user('joe', ['compute * /**'])]);
    const k = key({ scope: 'inherit', deny: ['compute * /admin/**'] });
    const byReading = authorize(p, k, request({ path: '/Admin/x' }));
    const literal = authorize(p, k, request({ path: '/admin/x' }));
    expect(byReading).toMatchObject({ allow: false, reason: 'key_deny_rule' });
    expect(!byReading.allow && byReading.detail).toMatch(/as an upstream may read/);
    expect(!literal.allow && literal.detail).not.toMatch(/as an upstream may read/);
  });

  it('stays polynomial on a crafted path (each segment both a name and droppable)', () => {
    const m = matcher('deny', ['compute * /*/*/*/*/*/*/*/*/x', 'compute * /**/*/*/*/**/y']);
    const started = performance.now();
    for (const seg of ['a;b', ';b', '']) {
      const segments = Array.from({ length: 1500 }, (_, i) => (i === 0 ? 'a' : seg));
      const q = { region: 'eu-west-1', service: 'compute', method: 'GET', segments };
      expect(m.matchAnyReading(q, readingsOf(segments))).toBe(undefined);
    }
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

// ---- properties ------------------------------------------------------------------

/** Every reading of a path, spelled out the slow way (independent of readingsOf). */
function explicitReadings(path: string): string[][] {
  const segments = pathSegments(path.toLowerCase());
  const last = segments.findLastIndex((s) => s !== '');
  let out: string[][] = [[]];
  segments.forEach((seg, i) => {
    const spellings = new Set([seg]);
    const bare = seg.includes(';') ? seg.slice(0, seg.indexOf(';')) : undefined;
    if (bare !== undefined) spellings.add(bare);
    if (i === last) for (const s of [seg, bare]) if (s !== undefined && withoutFormat(s) !== undefined) spellings.add(withoutFormat(s)!);
    const next: string[][] = [];
    for (const prefix of out) {
      for (const s of spellings) {
        next.push([...prefix, s]);
        if (s === '' && segments.length > 1) next.push(prefix);
      }
    }
    out = next;
  });
  return out;
}

function foldedPattern(p: PathPattern): PathPattern {
  const folded = compilePattern(p.text.toLowerCase()); // named segments keep working: `{ID}` is as good a name
  if ('error' in folded) throw new Error(folded.error);
  return folded;
}

function naiveAnyReading(
  rules: readonly CompiledRule[],
  q: { service: string; method: string; region: string },
  path: string,
): CompiledRule | undefined {
  const readings = explicitReadings(path);
  return rules.find(
    (r) =>
      (r.service === '*' || r.service === q.service) &&
      (r.methods === null || r.methods.has(q.method) || (q.method === 'HEAD' && r.methods.has('GET'))) &&
      (r.regions === null || r.regions.has(q.region)) &&
      readings.some((segs) => matchesPattern(foldedPattern(r.path), segs)),
  );
}

const ruleArb = fc
  .record({
    service: fc.constantFrom('compute', '*'),
    method: fc.constantFrom('*', 'GET', 'HEAD', 'DELETE', 'read'),
    segments: fc.array(fc.constantFrom('*', '**', '{id}', 'a', 'b', 'Admin', 'x.json', 'a;v', ''), { minLength: 1, maxLength: 4 }),
  })
  .map((r) => `${r.service} ${r.method} /${r.segments.join('/')}`);
const pathArb = fc
  .array(fc.constantFrom('a', 'A', 'b', 'admin', 'ADMIN.json', 'x.json', 'a;v', ';p', 'B;q.xml', '', ''), { minLength: 1, maxLength: 6 })
  .map((s) => `/${s.join('/')}`);
const methodArb = fc.constantFrom('GET', 'HEAD', 'DELETE', 'POST');

describe('path readings (properties)', () => {
  it('matchAnyReading finds the first rule that matches some reading, as spelled out one by one', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 6 }), pathArb, methodArb, (texts, path, method) => {
        const rules = texts.map((t, i) => rule(t, 'deny', i));
        const q = query(method, path);
        expect(new RuleMatcher(rules).matchAnyReading(q, readingsOf(q.segments))).toBe(naiveAnyReading(rules, q, path));
      }),
      { numRuns: 600 },
    );
  });

  it('is monotone: a reading can only add denials, never allowances', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 4 }),
        fc.array(ruleArb, { maxLength: 4 }),
        fc.array(ruleArb, { maxLength: 3 }),
        fc.array(ruleArb, { maxLength: 2 }),
        fc.constantFrom('restricted' as const, 'inherit' as const),
        pathArb,
        methodArb,
        (roles, allow, deny, guardrails, scope, path, method) => {
          const joe = user('joe', roles);
          const p = policy(
            [joe],
            guardrails.map((g, i) => rule(g, 'guardrail', i)),
          );
          const k = key({ scope, allow, deny });
          const req = request({ path, method });
          // What deny rules and guardrails match byte for byte, they match with every reading too.
          if (k.deny.match(req) !== undefined) expect(k.deny.matchAnyReading(req, req.readings)).toBeDefined();
          if (p.guardrails.match(req) !== undefined) expect(p.guardrails.matchAnyReading(req, req.readings)).toBeDefined();
          // Allowed = allow rules byte for byte, and no reading denied: readings never widen access.
          const allowedByteForByte = joe.rules.match(req) !== undefined && (scope === 'inherit' || k.allow.match(req) !== undefined);
          const deniedByReading =
            k.deny.matchAnyReading(req, req.readings) !== undefined || p.guardrails.matchAnyReading(req, req.readings) !== undefined;
          expect(authorize(p, k, req).allow).toBe(allowedByteForByte && !deniedByReading);
        },
      ),
      { numRuns: 600 },
    );
  });
});
