import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../../src/policy/decide.js';
import { key, policy, request, rule, user } from './build.js';

const ruleText = fc
  .record({
    service: fc.constantFrom('compute', 'identity', '*'),
    method: fc.constantFrom('*', 'read', 'write', 'GET', 'HEAD', 'DELETE', 'POST,PUT'),
    region: fc.constantFrom('', ' @eu-west-1', ' @us-east-1', ' @eu-west-1,us-east-1'),
    segments: fc.array(fc.constantFrom('*', '**', '{id}', 'v2', 'servers', 'users', 'x'), { minLength: 1, maxLength: 4 }),
  })
  .map((r) => `${r.service} ${r.method} /${r.segments.join('/')}${r.region}`);
const rules = (max: number) => fc.array(ruleText, { maxLength: max });

const requestArb = fc.record({
  service: fc.constantFrom('compute', 'identity', 'storage'),
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
  region: fc.constantFrom('eu-west-1', 'us-east-1'),
  path: fc.array(fc.constantFrom('v2', 'servers', 'users', 'x', 'p1', ''), { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`),
});

const scenario = fc.record({
  roles: rules(6),
  allow: rules(6),
  deny: rules(3),
  guardrails: rules(2),
  scope: fc.constantFrom('restricted' as const, 'inherit' as const),
  exceptThisKey: fc.boolean(),
  requests: fc.array(requestArb, { minLength: 1, maxLength: 10 }),
});

describe('a key never does more than its user (property)', () => {
  it("never allows what the user's roles alone deny, and honours scope, deny rules and guardrails", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const joe = user('joe', s.roles);
        const except = s.exceptThisKey ? ['AAAAAAAAAAAA'] : [];
        const p = policy(
          [joe],
          s.guardrails.map((g, i) => rule(g, 'guardrail', i, except)),
        );
        const k = key({ scope: s.scope, allow: s.allow, deny: s.deny });
        for (const r of s.requests) {
          const req = request(r);
          const d = authorize(p, k, req);
          if (joe.rules.match(req) === undefined) expect(d.allow).toBe(false);
          if (s.scope === 'restricted' && k.allow.match(req) === undefined) expect(d.allow).toBe(false);
          if (k.deny.match(req) !== undefined) expect(d.allow).toBe(false);
          if (!s.exceptThisKey && p.guardrails.match(req) !== undefined) expect(d.allow).toBe(false);
          if (d.allow) expect(d.userRule).toBe(joe.rules.match(req));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same decision to a restricted key allowing "* * /**" and an inherit key', () => {
    fc.assert(
      fc.property(rules(6), rules(3), fc.array(requestArb, { minLength: 1, maxLength: 10 }), (roles, deny, requests) => {
        const p = policy([user('joe', roles)]);
        const restricted = key({ allow: ['* * /**'], deny });
        const inherit = key({ scope: 'inherit', deny });
        for (const r of requests) {
          expect(authorize(p, restricted, request(r)).reason).toBe(authorize(p, inherit, request(r)).reason);
        }
      }),
      { numRuns: 300 },
    );
  });
});
