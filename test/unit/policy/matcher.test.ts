import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleMatcher, type RuleQuery } from '../../../src/policy/matcher.js';
import { matchesPattern } from '../../../src/policy/pathPattern.js';
import type { CompiledRule } from '../../../src/policy/rules.js';
import { matcher, request, rule, type RequestOptions } from './build.js';

const first = (m: RuleMatcher, o: RequestOptions = {}): number | undefined => m.match(request(o))?.origin.index;

describe('regions', () => {
  it.each([
    { desc: 'omitted: any region', rule: 'compute * /**', region: 'ap-south-1', match: true },
    { desc: 'a single name: that region', rule: 'compute * /** @eu-west-1', region: 'eu-west-1', match: true },
    { desc: 'a single name: not another region', rule: 'compute * /** @eu-west-1', region: 'us-east-1', match: false },
    { desc: 'a list: any listed region', rule: 'compute * /** @us-east-1,eu-west-1', region: 'eu-west-1', match: true },
    { desc: 'a list: not an unlisted region', rule: 'compute * /** @us-east-1,eu-west-1', region: 'eu-central-1', match: false },
    { desc: 'names are compared exactly', rule: 'compute * /** @eu-west-1', region: 'EU-WEST-1', match: false },
  ])('$desc', ({ rule: text, region, match }) => {
    expect(first(matcher('r', [text]), { region }) !== undefined).toBe(match);
  });

  it('reads region as a string or a list from a rule spec', () => {
    expect([...rule({ service: 'compute', path: '/**', region: 'eu-west-1' }).regions!]).toEqual(['eu-west-1']);
    expect([...rule({ service: 'compute', path: '/**', region: ['a', 'b'] }).regions!]).toEqual(['a', 'b']);
    expect(rule({ service: 'compute', path: '/**' }).regions).toBe(null);
  });
});

describe('services', () => {
  it.each([
    { desc: 'a named service matches itself', rule: 'compute * /**', service: 'compute', match: true },
    { desc: 'a named service does not match another', rule: 'compute * /**', service: 'identity', match: false },
    { desc: '"*" matches every service', rule: '* * /**', service: 'identity', match: true },
    { desc: 'service names are case-sensitive', rule: 'compute * /**', service: 'Compute', match: false },
  ])('$desc', ({ rule: text, service, match }) => {
    expect(first(matcher('r', [text]), { service }) !== undefined).toBe(match);
  });
});

describe('RuleMatcher: first listed rule wins', () => {
  it.each([
    {
      desc: 'a broad rule listed first beats a specific one listed later',
      rules: ['compute * /**', 'compute GET /v2/p1/servers/s1'],
      expected: 0,
    },
    {
      desc: 'a specific rule listed first beats a broad one',
      rules: ['compute GET /v2/p1/servers/s1', 'compute * /**'],
      expected: 0,
    },
    {
      desc: 'a "*" service rule listed first beats a named one',
      rules: ['* read /**', 'compute * /v2/**'],
      expected: 0,
    },
    {
      desc: 'a named service rule listed first beats a "*" one',
      rules: ['compute * /v2/**', '* read /**'],
      expected: 0,
    },
    {
      desc: 'a rule that does not admit the method is skipped',
      rules: ['compute POST /**', 'compute * /v2/*/servers/*', 'compute GET /**'],
      expected: 1,
    },
    {
      desc: 'a rule for another region is skipped',
      rules: ['compute * /** @us-east-1', 'compute read /v2/**'],
      expected: 1,
    },
    {
      desc: 'same pattern, different methods: the one that admits wins',
      rules: ['compute DELETE /v2/*/servers/*', 'compute GET /v2/*/servers/*'],
      expected: 1,
    },
  ])('$desc', ({ rules, expected }) => {
    expect(first(matcher('r', rules), { method: 'GET', path: '/v2/p1/servers/s1' })).toBe(expected);
  });

  it('lets `accept` skip a rule (guardrail except) and still find a later one', () => {
    const m = new RuleMatcher([rule('compute * /**', 'g', 0, ['AAAAAAAAAAAA']), rule('compute * /v2/**', 'g', 1)]);
    expect(m.match(request(), (r) => !r.except?.has('AAAAAAAAAAAA'))?.origin.index).toBe(1);
    expect(m.match(request(), (r) => !r.except?.has('BBBBBBBBBBBB'))?.origin.index).toBe(0);
  });

  it('matches nothing when empty', () => {
    expect(new RuleMatcher([]).match(request())).toBe(undefined);
    expect(new RuleMatcher([]).size).toBe(0);
  });
});

/** The reference: check every rule in order. */
function naiveMatch(rules: readonly CompiledRule[], q: RuleQuery): CompiledRule | undefined {
  return rules.find(
    (r) =>
      (r.service === '*' || r.service === q.service) &&
      (r.methods === null || r.methods.has(q.method)) &&
      (r.regions === null || r.regions.has(q.region)) &&
      matchesPattern(r.path, q.segments),
  );
}

const SEGMENT_WORDS = ['a', 'b', 'c', 'v2', ''];
const patternSegment = fc.constantFrom('*', '**', '{id}', 'a', 'b', 'c', 'v2', '');
const ruleArb = fc.record({
  service: fc.constantFrom('compute', 'identity', '*'),
  method: fc.constantFrom('*', 'read', 'write', 'GET', 'POST,DELETE'),
  region: fc.constantFrom('', '@eu-west-1', '@us-east-1,eu-west-1'),
  segments: fc.array(patternSegment, { minLength: 1, maxLength: 5 }),
});
const queryArb = fc.record({
  service: fc.constantFrom('compute', 'identity', 'storage'),
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'PATCH'),
  region: fc.constantFrom('eu-west-1', 'us-east-1'),
  segments: fc.array(fc.constantFrom(...SEGMENT_WORDS), { minLength: 1, maxLength: 6 }),
});

describe('RuleMatcher agrees with a naive linear matcher', () => {
  it('on random rule lists and requests', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 12 }), fc.array(queryArb, { minLength: 1, maxLength: 8 }), (specs, queries) => {
        const rules = specs.map((s, i) =>
          rule(`${s.service} ${s.method} /${s.segments.join('/')}${s.region ? ` ${s.region}` : ''}`, 'r', i),
        );
        const m = new RuleMatcher(rules);
        for (const q of queries) expect(m.match(q)).toBe(naiveMatch(rules, q));
      }),
      { numRuns: 500 },
    );
  });
});

describe('RuleMatcher cost with several "**" in one pattern', () => {
  it('stays polynomial in the path length (a client controls the path)', () => {
    const m = matcher('r', ['compute * /**/**/**/**/**/**/x', 'compute * /**/a/**/b/**/c/**/d']);
    const segments = Array.from({ length: 2000 }, () => 'a');
    const started = performance.now();
    expect(m.match({ region: 'eu-west-1', service: 'compute', method: 'GET', segments })).toBe(undefined);
    expect(m.match({ region: 'eu-west-1', service: 'compute', method: 'GET', segments: [...segments, 'x'] })?.origin.index).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
