import { describe, expect, it } from 'vitest';
import type { Reason } from '../../../src/errors.js';
import { authorize, type StepNumber } from '../../../src/policy/decide.js';
import { keyState } from '../../../src/policy/model.js';
import { key, NOW, policy, request, rule, user, type KeyOptions, type RequestOptions } from './build.js';

const ID = 'AAAAAAAAAAAA';
const OTHER_ID = 'BBBBBBBBBBBB';

/** joe: full compute servers + read everywhere; identity admin. Guardrail on identity credentials. */
const POLICY = policy(
  [
    user('joe', ['compute * /v2/*/servers/**', '* read /**', 'identity * /v3/**']),
    user('dora', ['* * /**'], { disabled: true }),
    user('olga', ['* * /**'], { expires: NOW }),
    user('yara', ['* * /**'], { expires: NOW + 1 }),
  ],
  [rule('identity POST,PUT,PATCH,DELETE /v3/users/*/credentials/**', 'guardrail', 0, [OTHER_ID])],
);

const SERVERS = '/v2/p1/servers/s1';
const CREDENTIALS = '/v3/users/u1/credentials/c1';

interface Row {
  desc: string;
  key: KeyOptions;
  req?: RequestOptions;
  reason: Reason;
  step: StepNumber;
  /** owner of the rule the decision names (deny rule / guardrail, or the key rule on allow) */
  rule?: string;
}

const inherit = (o: KeyOptions = {}): KeyOptions => ({ scope: 'inherit', ...o });
const servers = (o: KeyOptions = {}): KeyOptions => ({ allow: ['compute * /v2/*/servers/**'], ...o });

const ROWS: Row[] = [
  // step 3: the key's own state
  { desc: 'a disabled key', key: inherit({ disabled: true }), reason: 'key_disabled', step: 3 },
  { desc: 'a key that expired yesterday', key: inherit({ expires: NOW - 86_400_000 }), reason: 'key_expired', step: 3 },
  { desc: 'a key at the exact instant it expires (now == expires)', key: inherit({ expires: NOW }), reason: 'key_expired', step: 3 },
  { desc: 'a key one millisecond before it expires', key: inherit({ expires: NOW + 1 }), reason: 'allow', step: 7 },
  { desc: 'a key before notBefore', key: inherit({ notBefore: NOW + 1 }), reason: 'key_not_yet_valid', step: 3 },
  { desc: 'a key at the exact instant of notBefore (now == notBefore)', key: inherit({ notBefore: NOW }), reason: 'allow', step: 7 },
  {
    desc: 'a client outside sourceIPs',
    key: inherit({ sourceIPs: ['10.0.0.0/8'] }),
    req: { clientIp: '192.168.1.1' },
    reason: 'source_ip_not_allowed',
    step: 3,
  },
  {
    desc: 'a client inside sourceIPs',
    key: inherit({ sourceIPs: ['10.0.0.0/8'] }),
    req: { clientIp: '10.200.0.1' },
    reason: 'allow',
    step: 7,
  },
  {
    desc: 'an IPv4-mapped IPv6 client inside an IPv4 range',
    key: inherit({ sourceIPs: ['10.0.0.0/8'] }),
    req: { clientIp: '::ffff:10.1.2.3' },
    reason: 'allow',
    step: 7,
  },
  {
    desc: 'an IPv6 client inside an IPv6 range',
    key: inherit({ sourceIPs: ['2001:db8::/32'] }),
    req: { clientIp: '2001:db8::7' },
    reason: 'allow',
    step: 7,
  },
  {
    desc: 'an IPv6 client outside an IPv6 range',
    key: inherit({ sourceIPs: ['2001:db8::/32'] }),
    req: { clientIp: '2001:db9::7' },
    reason: 'source_ip_not_allowed',
    step: 3,
  },
  {
    desc: 'a disabled and expired key reports the first failing check',
    key: inherit({ disabled: true, expires: NOW - 1 }),
    reason: 'key_disabled',
    step: 3,
  },
  {
    desc: 'a disabled key of an unknown user: step 3 comes before step 4',
    key: inherit({ disabled: true, user: 'ghost' }),
    reason: 'key_disabled',
    step: 3,
  },
  {
    desc: 'a bad source IP is checked before the user',
    key: inherit({ user: 'dora', sourceIPs: ['10.0.0.0/8'] }),
    req: { clientIp: '11.0.0.1' },
    reason: 'source_ip_not_allowed',
    step: 3,
  },
  // step 4: the user
  { desc: 'a key whose user is not in the policy', key: inherit({ user: 'ghost' }), reason: 'user_unknown', step: 4 },
  { desc: 'a key of a disabled user', key: inherit({ user: 'dora' }), reason: 'user_disabled', step: 4 },
  { desc: 'a key of a user at the exact instant the user expires', key: inherit({ user: 'olga' }), reason: 'user_expired', step: 4 },
  { desc: 'a key of a user one millisecond before the user expires', key: inherit({ user: 'yara' }), reason: 'allow', step: 7 },
  // step 5: the user's roles
  {
    desc: "a write outside the user's roles",
    key: inherit(),
    req: { method: 'POST', path: '/v2/p1/images' },
    reason: 'user_denied',
    step: 5,
  },
  {
    desc: 'a service the user has no write role on',
    key: inherit(),
    req: { service: 'storage', method: 'PUT', path: '/b/o' },
    reason: 'user_denied',
    step: 5,
  },
  {
    desc: 'a restricted key allowing more than its user: capped by the user',
    key: { allow: ['* * /**'] },
    req: { method: 'DELETE', path: '/v2/p1/images/i1' },
    reason: 'user_denied',
    step: 5,
  },
  // step 6: the key's scope
  {
    desc: 'a restricted key with no allow rule for the request',
    key: servers(),
    req: { path: '/v2/p1/images' },
    reason: 'key_scope_denied',
    step: 6,
  },
  { desc: 'a restricted key with no allow rules at all', key: {}, reason: 'key_scope_denied', step: 6 },
  {
    desc: 'a read-only restricted key asked to write',
    key: { allow: ['* read /**'] },
    req: { method: 'POST' },
    reason: 'key_scope_denied',
    step: 6,
  },
  {
    desc: 'an inherit key with a matching deny rule',
    key: inherit({ deny: ['compute DELETE /**'] }),
    req: { method: 'DELETE' },
    reason: 'key_deny_rule',
    step: 6,
    rule: `key ${ID} deny`,
  },
  {
    desc: 'a restricted key whose deny rule carves out of its allow rule',
    key: servers({ deny: ['compute * /v2/*/servers/s1'] }),
    reason: 'key_deny_rule',
    step: 6,
    rule: `key ${ID} deny`,
  },
  {
    desc: 'an inherit key whose deny rule does not match',
    key: inherit({ deny: ['compute DELETE /**'] }),
    req: { method: 'PUT' },
    reason: 'allow',
    step: 7,
  },
  // step 7: guardrails
  {
    desc: 'a key on a guarded route',
    key: inherit(),
    req: { service: 'identity', method: 'POST', path: CREDENTIALS },
    reason: 'guardrail',
    step: 7,
    rule: 'guardrail',
  },
  {
    desc: 'a restricted key allowed the guarded route is still stopped',
    key: { allow: ['identity * /v3/**'] },
    req: { service: 'identity', method: 'DELETE', path: CREDENTIALS },
    reason: 'guardrail',
    step: 7,
    rule: 'guardrail',
  },
  {
    desc: "a key named in the guardrail's except",
    key: inherit({ id: OTHER_ID }),
    req: { service: 'identity', method: 'POST', path: CREDENTIALS },
    reason: 'allow',
    step: 7,
  },
  {
    desc: 'a method the guardrail does not list',
    key: inherit(),
    req: { service: 'identity', method: 'GET', path: CREDENTIALS },
    reason: 'allow',
    step: 7,
  },
  // allowed
  { desc: "an inherit key within its user's roles", key: inherit(), req: { method: 'DELETE' }, reason: 'allow', step: 7 },
  {
    desc: "a restricted key within its allow rules and its user's roles",
    key: servers(),
    req: { method: 'PATCH' },
    reason: 'allow',
    step: 7,
    rule: `key ${ID} allow`,
  },
];

describe('authorize: steps 3-7 and their reason codes', () => {
  it.each(ROWS)('$desc → $reason (step $step)', (row) => {
    const d = authorize(POLICY, key(row.key), request({ path: SERVERS, ...row.req }));
    expect({ reason: d.reason, step: d.step, allow: d.allow }).toEqual({
      reason: row.reason,
      step: row.step,
      allow: row.reason === 'allow',
    });
    if (row.rule !== undefined) {
      const named = d.allow ? d.keyRule : d.rule;
      expect(named?.origin.owner).toBe(row.rule);
    }
  });

  it('covers every reason code steps 3-7 can give', () => {
    const codes = new Set(ROWS.map((r) => r.reason));
    for (const code of [
      'key_disabled',
      'key_expired',
      'key_not_yet_valid',
      'source_ip_not_allowed',
      'user_unknown',
      'user_disabled',
      'user_expired',
      'user_denied',
      'key_scope_denied',
      'key_deny_rule',
      'guardrail',
      'allow',
    ])
      expect(codes).toContain(code);
  });

  it('names the user rule and the key rule that allowed a restricted key', () => {
    const d = authorize(POLICY, key(servers()), request({ method: 'GET', path: SERVERS }));
    expect(d.allow).toBe(true);
    if (!d.allow) return;
    expect(d.userRule.origin).toMatchObject({ owner: 'role of joe', index: 0 });
    expect(d.keyRule?.origin).toMatchObject({ owner: `key ${ID} allow`, index: 0 });
  });

  it('names only the user rule for an inherit key', () => {
    const d = authorize(POLICY, key(inherit()), request({ path: SERVERS }));
    expect(d.allow && d.keyRule).toBe(undefined);
  });

  it('checks expiry per request with the injected clock, not at build time', () => {
    const k = key(inherit({ expires: NOW + 1000 }));
    expect(authorize(POLICY, k, request({ now: NOW + 999 })).reason).toBe('allow');
    expect(authorize(POLICY, k, request({ now: NOW + 1000 })).reason).toBe('key_expired');
  });

  it('names the unwrapped client address in a source-IP denial', () => {
    const d = authorize(POLICY, key(inherit({ sourceIPs: ['10.0.0.0/8'] })), request({ clientIp: '::ffff:192.168.0.9' }));
    expect(d.allow).toBe(false);
    if (!d.allow) expect(d.detail).toContain('192.168.0.9');
  });
});

describe('keyState', () => {
  it.each([
    { desc: 'a usable key', key: {}, state: 'active' },
    { desc: 'a key of an unknown user', key: { user: 'ghost' }, state: 'orphaned' },
    { desc: 'a disabled key', key: { disabled: true }, state: 'disabled' },
    { desc: 'a key of a disabled user', key: { user: 'dora' }, state: 'disabled' },
    { desc: 'a key at its expiry instant', key: { expires: NOW }, state: 'expired' },
    { desc: 'a key of an expired user', key: { user: 'olga' }, state: 'expired' },
    { desc: 'a key before notBefore', key: { notBefore: NOW + 1 }, state: 'not_yet_valid' },
    { desc: 'a key at notBefore', key: { notBefore: NOW }, state: 'active' },
  ] satisfies { desc: string; key: KeyOptions; state: string }[])('$desc is $state', ({ key: k, state }) => {
    expect(keyState(POLICY, key(k), NOW)).toBe(state);
  });
});
