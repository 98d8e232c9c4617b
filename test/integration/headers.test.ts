import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { rawRequest, requestHead, type RawResponse } from '../helpers/raw.js';
import { echo, type SeenRequest } from '../helpers/upstream.js';

/**
 * What the upstream receives, sent over raw sockets so header names, repeats and
 * `Connection:` lists reach keygate exactly as written.
 */
type Header = readonly [string, string];
const COMPUTE = '/compute/v2/p1/servers/1';
const IDENTITY = '/identity/v3/users';
const compute: Header = ['Authorization', `Bearer ${DEMO_KEYS.deploy.key}`];
const identity: Header = ['X-API-Key', DEMO_KEYS.aliceAdmin.key];

/** Every value of `name` the upstream got, matching names case-insensitively and with `_` as `-`. */
function values(seen: SeenRequest, name: string): string[] {
  const canonical = (n: string): string => n.toLowerCase().replaceAll('_', '-');
  const out: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2)
    if (canonical(seen.rawHeaders[i]) === canonical(name)) out.push(seen.rawHeaders[i + 1]);
  return out;
}

describe('headers the upstream receives', () => {
  const fx = useKeygate({
    handler: (req, res, seen) => {
      if (!req.url?.endsWith('/hop')) return echo(req, res, seen);
      res.writeHead(200, [
        'Connection',
        'keep-alive, X-Upstream-Private',
        'Keep-Alive',
        'timeout=5',
        'X-Upstream-Private',
        'secret',
        'X-Request-Id',
        'upstream-chose-this',
        'X-Public',
        'yes',
        'Content-Length',
        '2',
      ]);
      res.end('ok');
    },
  });
  const port = (): number => fx.kg.app.port('proxy');

  async function send(path: string, headers: readonly Header[]): Promise<{ res: RawResponse; seen: SeenRequest }> {
    const before = fx.upstream.seen.length;
    const res = await rawRequest(port(), requestHead('GET', path, [['Host', `127.0.0.1:${port()}`], ...headers]));
    expect(res.status).toBe(200);
    expect(fx.upstream.seen).toHaveLength(before + 1);
    return { res, seen: fx.upstream.seen.at(-1)! };
  }

  /** keygate's own headers, exactly once each, whatever the client sent. */
  function expectKeygateHeaders(seen: SeenRequest, res: RawResponse, service: 'compute' | 'identity'): void {
    const [user, id, name] =
      service === 'compute' ? ['joe', DEMO_KEYS.deploy.id, 'deploy'] : ['alice', DEMO_KEYS.aliceAdmin.id, 'alice-admin'];
    expect(values(seen, 'x-keygate-user')).toEqual([user]);
    expect(values(seen, 'x-keygate-key-id')).toEqual([id]);
    expect(values(seen, 'x-keygate-key-name')).toEqual([name]);
    if (service === 'compute') {
      expect(values(seen, 'authorization')).toEqual([`Bearer ${DEMO_TOKENS.compute}`]);
    } else {
      expect(values(seen, 'x-service-token')).toEqual([DEMO_TOKENS.identity]);
      expect(values(seen, 'authorization')).toEqual([]);
    }
    expect(values(seen, 'x-api-key')).toEqual([]);
    expect(values(seen, 'x-request-id')).toEqual([res.headers['x-request-id']]);
    expect(values(seen, 'x-forwarded-for')).toHaveLength(1);
    expect(values(seen, 'x-forwarded-for')[0]).toMatch(/(^|, )127\.0\.0\.1$/);
    expect(values(seen, 'x-forwarded-proto')).toHaveLength(1);
    expect(values(seen, 'x-forwarded-host')).toHaveLength(1);
    const keygateNames = seen.rawHeaders.filter((_, i) => i % 2 === 0 && /^x[-_]keygate[-_]/i.test(seen.rawHeaders[i]));
    // compute sends a signed identity assertion (config/keygate.yaml), exactly one, keygate's own
    const assertion = service === 'compute' ? ['x-keygate-assertion'] : [];
    expect(keygateNames.sort()).toEqual([...assertion, 'x-keygate-key-id', 'x-keygate-key-name', 'x-keygate-user']);
    if (service === 'compute') expect(values(seen, 'x-keygate-assertion')[0]).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(DEMO_KEYS.deploy.key);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(DEMO_KEYS.aliceAdmin.key);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain('forged');
  }

  type Row = { desc: string; path: string; headers: Header[] };
  const tricks: Row[] = [
    { desc: 'Connection: X-Keygate-User', path: COMPUTE, headers: [compute, ['Connection', 'X-Keygate-User']] },
    {
      desc: 'Connection lists every identity header',
      path: COMPUTE,
      headers: [compute, ['Connection', 'keep-alive, X-Keygate-User, X-Keygate-Key-Id, x-keygate-key-name']],
    },
    { desc: 'Connection: Authorization (the service-token header)', path: COMPUTE, headers: [compute, ['Connection', 'Authorization']] },
    {
      desc: 'Connection: X-Service-Token on a service whose token goes there',
      path: IDENTITY,
      headers: [identity, ['Connection', 'X-Service-Token']],
    },
    {
      desc: 'Connection: X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host',
      path: COMPUTE,
      headers: [compute, ['X-Forwarded-For', 'forged'], ['Connection', 'X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host']],
    },
    {
      desc: 'Connection: X-Request-Id',
      path: COMPUTE,
      headers: [compute, ['X-Request-Id', 'client-id-1'], ['Connection', 'X-Request-Id']],
    },
    {
      desc: 'two Connection headers',
      path: COMPUTE,
      headers: [compute, ['Connection', 'X-Keygate-User'], ['Connection', 'Authorization, X-Keygate-Key-Id']],
    },
    {
      desc: 'Connection with odd spacing and case',
      path: COMPUTE,
      headers: [compute, ['Connection', ' ,x-KEYGATE-user ,,AUTHORIZATION ']],
    },
    { desc: 'Connection lists the X-API-Key credential header', path: IDENTITY, headers: [identity, ['Connection', 'X-API-Key']] },
  ];

  it.each(tricks)('a Connection: trick cannot remove keygate headers: $desc', async ({ path, headers }) => {
    const { res, seen } = await send(path, headers);
    expectKeygateHeaders(seen, res, path === COMPUTE ? 'compute' : 'identity');
  });

  const spoofs: Row[] = [
    { desc: 'X-Keygate-User', path: COMPUTE, headers: [compute, ['X-Keygate-User', 'forged-admin']] },
    {
      desc: 'every identity header, repeated',
      path: COMPUTE,
      headers: [
        compute,
        ['X-Keygate-User', 'forged'],
        ['X-Keygate-Key-Id', 'forged'],
        ['X-Keygate-Key-Name', 'forged'],
        ['x-keygate-user', 'forged'],
      ],
    },
    { desc: 'x_keygate_user (CGI servers read it as X-Keygate-User)', path: COMPUTE, headers: [compute, ['x_keygate_user', 'forged']] },
    {
      desc: 'X_KEYGATE_KEY_ID and X-Keygate_Key-Name',
      path: COMPUTE,
      headers: [compute, ['X_KEYGATE_KEY_ID', 'forged'], ['X-Keygate_Key-Name', 'forged']],
    },
    {
      desc: 'any other X-Keygate-* header',
      path: COMPUTE,
      headers: [compute, ['X-Keygate-Role', 'forged'], ['x_keygate_admin', 'forged']],
    },
    { desc: 'an inbound copy of the service-token header', path: IDENTITY, headers: [identity, ['X-Service-Token', 'forged']] },
    { desc: 'an underscore copy of the service-token header', path: IDENTITY, headers: [identity, ['x_service_token', 'forged']] },
    {
      desc: 'the client key presented in Authorization on an X-Service-Token service',
      path: IDENTITY,
      headers: [['Authorization', `Bearer ${DEMO_KEYS.aliceAdmin.key}`]],
    },
    {
      desc: 'the key in both Authorization and X-API-Key',
      path: IDENTITY,
      headers: [identity, ['Authorization', `Bearer ${DEMO_KEYS.aliceAdmin.key}`]],
    },
    { desc: 'X_API_Key alongside the real credential', path: COMPUTE, headers: [compute, ['X_API_Key', 'forged']] },
  ];

  it.each(spoofs)('inbound spoof stripped: $desc', async ({ path, headers }) => {
    const { res, seen } = await send(path, headers);
    expectKeygateHeaders(seen, res, path === COMPUTE ? 'compute' : 'identity');
  });

  it('hop-by-hop request headers and Connection-listed ones are not forwarded; others are', async () => {
    const { seen } = await send(COMPUTE, [
      compute,
      ['Connection', 'keep-alive, X-Hop-Only'],
      ['Keep-Alive', 'timeout=5'],
      ['X-Hop-Only', 'drop me'],
      ['TE', 'trailers'],
      ['Trailer', 'X-Checksum'],
      ['Proxy-Authorization', 'Basic Zm9yZ2Vk'],
      ['Proxy-Connection', 'keep-alive'],
      ['X-Custom', 'kept'],
      ['Accept', 'application/json'],
    ]);
    for (const name of ['keep-alive', 'x-hop-only', 'te', 'trailer', 'proxy-authorization', 'proxy-connection'])
      expect(values(seen, name), name).toEqual([]);
    expect(values(seen, 'x-custom')).toEqual(['kept']);
    expect(values(seen, 'accept')).toEqual(['application/json']);
  });

  it('X-Forwarded-For/-Proto/-Host are created when absent', async () => {
    const { seen } = await send(COMPUTE, [compute]);
    expect(values(seen, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(values(seen, 'x-forwarded-proto')).toEqual(['http']);
    expect(values(seen, 'x-forwarded-host')).toEqual([`127.0.0.1:${port()}`]);
    expect(values(seen, 'host')).toEqual([new URL(fx.upstream.origin).host]);
  });

  it("X-Forwarded-For is appended to (repeats folded); an untrusted peer's X-Forwarded-Proto/-Host are replaced", async () => {
    const { seen } = await send(COMPUTE, [
      compute,
      ['X-Forwarded-For', '203.0.113.1'],
      ['X-Forwarded-For', '198.51.100.2, 10.0.0.3'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'api.example.com'],
    ]);
    expect(values(seen, 'x-forwarded-for')).toEqual(['203.0.113.1, 198.51.100.2, 10.0.0.3, 127.0.0.1']);
    expect(values(seen, 'x-forwarded-proto')).toEqual(['http']);
    expect(values(seen, 'x-forwarded-host')).toEqual([`127.0.0.1:${port()}`]);
  });

  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const ids: { desc: string; sent: string[]; kept: boolean }[] = [
    { desc: 'a simple id is kept', sent: ['req-1'], kept: true },
    { desc: 'every allowed character is kept', sent: ['AZaz09._:-'], kept: true },
    { desc: 'an underscore is allowed', sent: ['a_b'], kept: true },
    { desc: '128 characters are kept', sent: ['a'.repeat(128)], kept: true },
    { desc: 'none sent: one is generated', sent: [], kept: false },
    { desc: '129 characters: replaced', sent: ['a'.repeat(129)], kept: false },
    { desc: 'a space: replaced', sent: ['a b'], kept: false },
    { desc: 'a slash: replaced', sent: ['a/b'], kept: false },
    { desc: 'a comma: replaced', sent: ['a,b'], kept: false },
    { desc: 'a header-injection attempt: replaced', sent: ['x%0d%0aSet-Cookie:a=b'], kept: false },
    { desc: 'two different values: replaced', sent: ['one', 'two'], kept: false },
  ];

  it.each(ids)('request id: $desc, forwarded and echoed', async ({ sent, kept }) => {
    const { res, seen } = await send(COMPUTE, [compute, ...sent.map((v): Header => ['X-Request-Id', v])]);
    const id = res.headers['x-request-id'];
    if (kept) expect(id).toBe(sent[0]);
    else expect(id).toMatch(uuid);
    expect(values(seen, 'x-request-id')).toEqual([id]);
  });

  it('request id: kept and echoed on a denial too, in the header and the body', async () => {
    const res = await rawRequest(
      port(),
      requestHead('GET', COMPUTE, [
        ['Host', 'x'],
        ['X-Request-Id', 'denied-1'],
        ['Connection', 'close'],
      ]),
    );
    expect(res.status).toBe(401);
    expect(res.headers['x-request-id']).toBe('denied-1');
    expect(JSON.parse(res.body)).toMatchObject({ requestId: 'denied-1' });
  });

  it('request ids generated for different requests differ', async () => {
    const a = await send(COMPUTE, [compute]);
    const b = await send(COMPUTE, [compute]);
    expect(a.res.headers['x-request-id']).not.toBe(b.res.headers['x-request-id']);
  });

  it("response: hop-by-hop and Connection-listed headers are dropped; keygate's request id wins", async () => {
    const { res } = await send('/compute/v2/p1/servers/hop', [compute, ['X-Request-Id', 'mine-1']]);
    expect(res.body).toBe('ok');
    expect(res.headers['x-upstream-private']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5'); // keygate's own keep-alive may appear
    expect(res.headers['x-public']).toBe('yes');
    expect(res.headers['x-request-id']).toBe('mine-1');
  });
});
