import { describe, expect, it } from 'vitest';
import {
  effectivePermissions,
  effectiveSources,
  effectiveText,
  intersectRules,
  overreachingAllowRules,
  ruleCovers,
  withoutSubsumed,
  type EffectiveRule,
} from '../../../src/policy/effective.js';
import { methodsText } from '../../../src/policy/methods.js';
import { key, policy, rule, user } from './build.js';

/** `compute GET,HEAD /v2/** [eu-west-1]`, with `A ∩ B` when neither path covers the other. */
function text(r: EffectiveRule | undefined): string | undefined {
  if (!r) return undefined;
  const path = r.alsoPath ? `${r.path.text} ∩ ${r.alsoPath.text}` : r.path.text;
  const region = r.regions ? ` @${[...r.regions].join(',')}` : '';
  return `${r.service} ${methodsText(r.methods)} ${path}${region}`;
}

describe('intersectRules', () => {
  it.each([
    { desc: 'service "*" narrows to the named one', a: '* read /**', b: 'compute * /v2/**', expected: 'compute GET,HEAD /v2/**' },
    { desc: 'a named service with "*" keeps the name', a: 'compute * /v2/**', b: '* * /**', expected: 'compute * /v2/**' },
    { desc: 'different services do not intersect', a: 'compute * /**', b: 'identity * /**', expected: undefined },
    { desc: 'methods intersect', a: 'compute read /**', b: 'compute GET,POST /**', expected: 'compute GET /**' },
    { desc: 'disjoint methods do not intersect', a: 'compute read /**', b: 'compute write /**', expected: undefined },
    {
      desc: 'the narrower path is kept when one covers the other',
      a: 'compute * /v2/**',
      b: 'compute * /v2/*/servers/*',
      expected: 'compute * /v2/*/servers/*',
    },
    {
      desc: 'overlapping paths are shown as an intersection',
      a: 'compute * /v2/*/x',
      b: 'compute * /v2/y/*',
      expected: 'compute * /v2/*/x ∩ /v2/y/*',
    },
    { desc: 'disjoint paths do not intersect', a: 'compute * /v2/**', b: 'compute * /v3/**', expected: undefined },
    {
      desc: 'regions intersect',
      a: 'compute * /** @eu-west-1,us-east-1',
      b: 'compute * /** @us-east-1',
      expected: 'compute * /** @us-east-1',
    },
    {
      desc: "an omitted region takes the other side's",
      a: 'compute * /**',
      b: 'compute * /** @eu-west-1',
      expected: 'compute * /** @eu-west-1',
    },
    { desc: 'disjoint regions do not intersect', a: 'compute * /** @eu-west-1', b: 'compute * /** @us-east-1', expected: undefined },
  ])('$desc', ({ a, b, expected }) => {
    expect(text(intersectRules(rule(a), rule(b)))).toBe(expected);
  });

  it('records both rules it came from', () => {
    const a = rule('* read /**', 'role reader');
    const b = rule('compute * /v2/**', 'key X allow');
    expect(intersectRules(a, b)?.from).toEqual([[a, b]]);
  });
});

describe('effectivePermissions', () => {
  const p = policy(
    [user('joe', ['compute * /v2/*/servers/**', '* read /**'])],
    [rule('identity write /v3/users/*/credentials/**', 'guardrail', 0, ['BBBBBBBBBBBB']), rule('* DELETE /admin/**', 'guardrail', 1)],
  );

  it('restricted: user rules ∩ key allow rules, dropping empty intersections', () => {
    const perms = effectivePermissions(p, key({ allow: ['compute read /v2/**', 'identity POST /v3/**'] }));
    expect(perms.allow.map(text)).toEqual(['compute GET,HEAD /v2/*/servers/**', 'compute GET,HEAD /v2/**']);
  });

  it("inherit: all of the user's rules, minus deny rules listed separately", () => {
    const perms = effectivePermissions(p, key({ scope: 'inherit', deny: ['compute DELETE /**'] }));
    expect(perms.allow.map(text)).toEqual(['compute * /v2/*/servers/**', '* GET,HEAD /**']);
    expect(perms.deny.map((r) => r.path.text)).toEqual(['/**']);
  });

  it('lists the guardrails that apply, leaving out those whose except names the key', () => {
    const everything = policy(
      [user('joe', ['* * /**'])],
      [rule('identity write /v3/users/*/credentials/**', 'guardrail', 0, ['BBBBBBBBBBBB']), rule('* DELETE /admin/**', 'guardrail', 1)],
    );
    expect(effectivePermissions(everything, key({ id: 'AAAAAAAAAAAA', scope: 'inherit' })).guardrails.map((g) => g.origin.index)).toEqual([
      0, 1,
    ]);
    expect(effectivePermissions(everything, key({ id: 'BBBBBBBBBBBB', scope: 'inherit' })).guardrails.map((g) => g.origin.index)).toEqual([
      1,
    ]);
  });

  it("leaves out guardrails that cannot touch the key's scope (issue 14): another service, no shared method", () => {
    expect(effectivePermissions(p, key({ allow: ['compute read /v2/**'] })).guardrails).toEqual([]);
    expect(effectivePermissions(p, key({ scope: 'inherit' })).guardrails).toEqual([]); // joe reads anywhere, writes only compute servers
  });

  const ALL = policy([user('joe', ['* * /**'])]);
  it.each([
    { desc: 'a deny rule on the allowed path', allow: 'compute * /v2/**', deny: 'compute DELETE /v2/*/servers/*', shown: true },
    { desc: 'a deny rule on another path', allow: 'compute * /v2/**', deny: 'compute * /v3/**', shown: false },
    { desc: 'a deny rule on another service', allow: 'compute * /v2/**', deny: 'identity * /v2/**', shown: false },
    { desc: 'a deny rule for "*" services', allow: 'compute * /v2/**', deny: '* * /v2/admin/**', shown: true },
    { desc: 'a deny rule with no shared method', allow: 'compute read /**', deny: 'compute DELETE /**', shown: false },
    { desc: 'a deny rule whose GET covers the allowed HEAD', allow: 'compute HEAD /**', deny: 'compute GET /secret/**', shown: true },
    { desc: 'a deny rule in another region', allow: 'compute * /** @eu-west-1', deny: 'compute * /** @us-east-1', shown: false },
    { desc: 'a deny rule that bites only a lower-cased reading', allow: 'compute * /Admin/**', deny: 'compute * /admin/**', shown: true },
    { desc: 'a deny rule that bites only the .ext-less reading', allow: 'compute * /admin.json', deny: 'compute * /admin/**', shown: true },
    { desc: 'a deny rule that bites only the ;-less reading', allow: 'compute * /admin;v=1/x', deny: 'compute * /admin/x', shown: true },
    { desc: 'a deny rule that bites only the merged-slash reading', allow: 'compute * /a//b', deny: 'compute * /a/b', shown: true },
  ])('lists only deny rules that remove something: $desc → $shown', ({ allow, deny, shown }) => {
    const perms = effectivePermissions(ALL, key({ allow: [allow], deny: [deny] }));
    expect(perms.deny.length).toBe(shown ? 1 : 0);
  });

  it('is empty for a key whose user is not in the policy', () => {
    expect(effectivePermissions(p, key({ scope: 'inherit', user: 'ghost' })).allow).toEqual([]);
  });

  it('is empty for a restricted key with no allow rules', () => {
    expect(effectivePermissions(p, key({})).allow).toEqual([]);
  });
});

describe('effectivePermissions merging', () => {
  it('shows a rule reached through two user rules once, naming both ways', async () => {
    const { loadConfig } = await import('../../../src/config/load.js');
    const loaded = loadConfig(new URL('../../../config/keygate.yaml', import.meta.url).pathname);
    if (!loaded.ok) throw new Error('example config must load');
    const key = loaded.snapshot.keys.byId.get('DT7nOCBZHjkw')!;
    const perms = effectivePermissions(loaded.snapshot, key);
    expect(perms.allow).toHaveLength(1);
    expect(perms.allow[0].from.map((alt) => alt.map((r) => r.origin.owner))).toEqual([
      ['role compute-admin', 'key DT7nOCBZHjkw allow'],
      ['role reader', 'key DT7nOCBZHjkw allow'],
    ]);
  });
});

describe('ruleCovers', () => {
  it.each([
    { desc: 'a wider path covers a narrower one', outer: 'compute * /v2/**', inner: 'compute GET /v2/x', covers: true },
    { desc: 'service "*" covers a named service', outer: '* read /**', inner: 'compute GET /v2', covers: true },
    { desc: 'a named service does not cover "*"', outer: 'compute * /**', inner: '* GET /**', covers: false },
    { desc: 'fewer methods do not cover more', outer: 'compute GET /**', inner: 'compute GET,POST /**', covers: false },
    { desc: 'a region list covers a subset', outer: 'compute * /** @eu-west-1,us-east-1', inner: 'compute * /** @us-east-1', covers: true },
    { desc: 'a region list does not cover every region', outer: 'compute * /** @eu-west-1', inner: 'compute * /**', covers: false },
  ])('$desc', ({ outer, inner, covers }) => {
    expect(ruleCovers(rule(outer), rule(inner))).toBe(covers);
  });
});

describe('withoutSubsumed', () => {
  it('keeps each request shape once, by its widest rule, in first-seen order', () => {
    const [a, b, c] = ['compute GET /v2/x', '* read /**', 'identity POST /v3/**'].map((t) => intersectRules(rule(t), rule('* * /**'))!);
    expect(withoutSubsumed([a, b, c]).map(effectiveText)).toEqual(['* GET,HEAD /**', 'identity POST /v3/**']);
  });
});

describe('effectiveText and effectiveSources', () => {
  it('write an intersection with its region and every way it is reached', () => {
    const r = intersectRules(rule('compute * /v2/*/x @eu-west-1', 'role a'), rule('compute GET /v2/y/*', 'key K allow', 1))!;
    expect(effectiveText(r)).toBe('compute GET /v2/*/x ∩ /v2/y/* [region eu-west-1]');
    expect(effectiveSources(r)).toEqual(['role a rule 1 ∩ key K allow rule 2']);
  });
});

describe('overreachingAllowRules', () => {
  const p = policy([user('joe', ['compute read /v2/**'])]);

  it("names a restricted key's allow rule no user rule covers, with what it actually gives", () => {
    const found = overreachingAllowRules(p, key({ allow: ['compute GET /v2/x', 'compute * /v2/**'] }));
    expect(found.map((o) => o.rule.path.text)).toEqual(['/v2/**']);
    expect(found[0].effective.map(effectiveText)).toEqual(['compute GET,HEAD /v2/**']);
  });

  it("is empty for a key that inherits its user's access", () => {
    expect(overreachingAllowRules(p, key({ scope: 'inherit' }))).toEqual([]);
  });
});
