import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend } from '../helpers/http.js';
import { keyEntry, newKey, withWrongSecret } from '../helpers/keys.js';

/**
 * Every 401 as the client sees it: only missing_credentials, malformed_credentials or
 * invalid_key, with WWW-Authenticate, and nothing that tells an unknown key from a
 * bad secret or a disabled key. Operators still get the precise reason in the log.
 */
const keys = {
  disabled: newKey(),
  expired: newKey(),
  notYet: newKey(),
  orphan: newKey(),
  mallory: newKey(),
  oldUser: newKey(),
};

const extraKeys = [
  keyEntry(keys.disabled, 'joe', 'disabled', ['scope: inherit', 'disabled: true']),
  keyEntry(keys.expired, 'joe', 'expired', ['scope: inherit', 'expires: 2020-01-01T00:00:00Z']),
  keyEntry(keys.notYet, 'joe', 'not-yet', ['scope: inherit', 'notBefore: 2099-01-01T00:00:00Z']),
  keyEntry(keys.orphan, 'ghost', 'orphan', ['scope: inherit']),
  keyEntry(keys.mallory, 'mallory', 'mallory', ['scope: inherit']),
  keyEntry(keys.oldUser, 'old', 'old', ['scope: inherit']),
].join('\n');

const PATH = '/compute/v2/p1/servers/42';
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;
const mangled = `${DEMO_KEYS.deploy.key.slice(0, -1)}${DEMO_KEYS.deploy.key.endsWith('A') ? 'B' : 'A'}`;

type Row = { desc: string; headers: Record<string, string | string[]>; shown: string; logged: string };

const rows: Row[] = [
  { desc: 'no credential at all', headers: {}, shown: 'missing_credentials', logged: 'missing_credentials' },
  {
    desc: 'a Proxy-Authorization header is not a credential',
    headers: { 'proxy-authorization': `Bearer ${DEMO_KEYS.deploy.key}` },
    shown: 'missing_credentials',
    logged: 'missing_credentials',
  },
  { desc: 'Bearer without a token', headers: { authorization: 'Bearer' }, shown: 'malformed_credentials', logged: 'malformed_credentials' },
  {
    desc: 'an unknown scheme',
    headers: { authorization: `Token ${DEMO_KEYS.deploy.key}` },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'Basic that is not base64',
    headers: { authorization: 'Basic !!!not-base64!!!' },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'Basic without a colon',
    headers: { authorization: basic(DEMO_KEYS.deploy.key) },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'Basic with an empty password',
    headers: { authorization: basic('user:') },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  { desc: 'an empty X-API-Key', headers: { 'x-api-key': '' }, shown: 'malformed_credentials', logged: 'malformed_credentials' },
  {
    desc: 'X-API-Key repeated',
    headers: { 'x-api-key': [DEMO_KEYS.deploy.key, DEMO_KEYS.deploy.key] },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    // Node keeps only the first Authorization in req.headers: the repeat must still be seen.
    desc: 'Authorization repeated, the same valid key twice',
    headers: { authorization: [`Bearer ${DEMO_KEYS.deploy.key}`, `Bearer ${DEMO_KEYS.deploy.key}`] },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'Authorization repeated, a valid key first and another after it',
    headers: { authorization: [`Bearer ${DEMO_KEYS.deploy.key}`, `Bearer ${DEMO_KEYS.monitoring.key}`] },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'two different keys in Bearer and X-API-Key',
    headers: { authorization: `Bearer ${DEMO_KEYS.deploy.key}`, 'x-api-key': DEMO_KEYS.monitoring.key },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'a kg_ key with a broken checksum',
    headers: { authorization: `Bearer ${mangled}` },
    shown: 'malformed_credentials',
    logged: 'malformed_credentials',
  },
  {
    desc: 'a well-formed key with an unknown id',
    headers: { authorization: `Bearer ${newKey().key}` },
    shown: 'invalid_key',
    logged: 'unknown_key',
  },
  {
    desc: 'an unknown legacy-looking secret',
    headers: { 'x-api-key': 'hunter2-hunter2-hunter2' },
    shown: 'invalid_key',
    logged: 'unknown_key',
  },
  {
    desc: 'a known id with the wrong secret',
    headers: { authorization: `Bearer ${withWrongSecret(DEMO_KEYS.deploy)}` },
    shown: 'invalid_key',
    logged: 'bad_secret',
  },
  {
    desc: 'a wrong secret sent as X-API-Key',
    headers: { 'x-api-key': withWrongSecret(DEMO_KEYS.monitoring) },
    shown: 'invalid_key',
    logged: 'bad_secret',
  },
  {
    desc: 'a wrong secret sent as Basic',
    headers: { authorization: basic(`u:${withWrongSecret(DEMO_KEYS.deploy)}`) },
    shown: 'invalid_key',
    logged: 'bad_secret',
  },
  { desc: 'a disabled key', headers: { authorization: `Bearer ${keys.disabled.key}` }, shown: 'invalid_key', logged: 'key_disabled' },
  { desc: 'an expired key', headers: { authorization: `Bearer ${keys.expired.key}` }, shown: 'invalid_key', logged: 'key_expired' },
  {
    desc: 'a key before its notBefore',
    headers: { authorization: `Bearer ${keys.notYet.key}` },
    shown: 'invalid_key',
    logged: 'key_not_yet_valid',
  },
  {
    desc: 'a key whose user is not in the policy',
    headers: { authorization: `Bearer ${keys.orphan.key}` },
    shown: 'invalid_key',
    logged: 'user_unknown',
  },
  {
    desc: 'a key of a disabled user',
    headers: { authorization: `Bearer ${keys.mallory.key}` },
    shown: 'invalid_key',
    logged: 'user_disabled',
  },
  {
    desc: 'a key of an expired user',
    headers: { authorization: `Bearer ${keys.oldUser.key}` },
    shown: 'invalid_key',
    logged: 'user_expired',
  },
];

describe('401: authentication failures', () => {
  const fx = useKeygate({
    prepare: (c) => {
      c.write('keys.yaml', `${c.read('keys.yaml').trimEnd()}\n${extraKeys}\n`);
      c.write(
        'policy.yaml',
        c.read('policy.yaml').replace('\nusers:\n', '\nusers:\n  old:\n    roles: [reader]\n    expires: 2020-01-01T00:00:00Z\n'),
      );
    },
  });

  it.each(rows)('$desc → 401 $shown', async ({ headers, shown, logged }) => {
    const res = await httpSend(`${fx.kg.url()}${PATH}`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="keygate"/);
    if (shown !== 'missing_credentials') expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'about:blank',
      title: expect.any(String),
      status: 401,
      reason: shown,
      requestId: res.headers['x-request-id'],
    });
    const line = fx.kg.logs().find((l) => l.request_id === body.requestId);
    expect(line?.reason).toBe(logged);
    expect(fx.upstream.seen).toHaveLength(0);
  });

  it('an unknown key, a bad secret and a disabled key get byte-identical answers but for the request id', async () => {
    const variants = [newKey().key, withWrongSecret(DEMO_KEYS.deploy), keys.disabled.key, keys.orphan.key, keys.expired.key];
    const answers = await Promise.all(
      variants.map(async (key) => {
        const res = await httpSend(`${fx.kg.url()}${PATH}`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': 'same-id' } });
        const { date: _date, ...headers } = res.headers;
        return { status: res.status, headers, body: res.body };
      }),
    );
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0].body).not.toMatch(/unknown|secret|disabled|expired|user/i);
    expect(fx.upstream.seen).toHaveLength(0);
  });

  it('never echoes the presented key back', async () => {
    const key = withWrongSecret(DEMO_KEYS.deploy);
    const res = await httpSend(`${fx.kg.url()}${PATH}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(401);
    expect(res.body).not.toContain(key);
    expect(JSON.stringify(res.headers)).not.toContain(key);
    expect(fx.kg.logText()).not.toContain(key.slice(16));
  });

  it('a credential header repeated in two spellings is refused; the same key in both credential headers is not', async () => {
    const host = ['Host', new URL(fx.kg.url()).host];
    const twice = [...host, 'Authorization', `Bearer ${DEMO_KEYS.deploy.key}`, 'AUTHORIZATION', `Bearer ${DEMO_KEYS.deploy.key}`];
    expect((await httpSend(`${fx.kg.url()}${PATH}`, { headers: twice })).status).toBe(401);
    const apiKeyTwice = [...host, 'X-Api-Key', DEMO_KEYS.deploy.key, 'x-api-key', DEMO_KEYS.deploy.key];
    expect((await httpSend(`${fx.kg.url()}${PATH}`, { headers: apiKeyTwice })).status).toBe(401);
    const seen = fx.upstream.seen.length;
    const both = [...host, 'Authorization', `Bearer ${DEMO_KEYS.deploy.key}`, 'X-Api-Key', DEMO_KEYS.deploy.key];
    expect((await httpSend(`${fx.kg.url()}${PATH}`, { headers: both })).status).toBe(200);
    expect(fx.upstream.seen).toHaveLength(seen + 1);
  });
});
