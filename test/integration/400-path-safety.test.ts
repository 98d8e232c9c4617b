import { describe, expect, it } from 'vitest';
import { TARGET_PROBLEMS } from '../../src/proxy/pathSafety.js';
import { ROUTE_PROBLEMS } from '../../src/policy/route.js';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { rawRequest, requestHead } from '../helpers/raw.js';

/**
 * Path safety over raw sockets, so no client library cleans the target first: every
 * rejection is a 400 bad_target before routing or credentials, and the upstream never
 * sees the request. Accepted targets reach the upstream byte for byte as checked.
 */
const AUTH = `Bearer ${DEMO_KEYS.deploy.key}`;

type Rejection = { desc: string; target: string; method?: string; detail?: string };

const rejected: Rejection[] = [
  { desc: 'encoded slash %2F', target: '/compute/v2/p1%2Fservers/1', detail: TARGET_PROBLEMS.encodedSlash },
  { desc: 'encoded slash, lower-case %2f', target: '/compute/v2/p1%2fservers/1', detail: TARGET_PROBLEMS.encodedSlash },
  { desc: 'encoded backslash %5C', target: '/compute/v2/p1%5Cservers/1', detail: TARGET_PROBLEMS.encodedBackslash },
  { desc: 'encoded backslash, lower-case %5c', target: '/compute/v2/p1%5cservers/1', detail: TARGET_PROBLEMS.encodedBackslash },
  { desc: 'raw backslash', target: '/compute/v2\\p1/servers/1', detail: TARGET_PROBLEMS.backslash },
  { desc: 'raw dot-dot segment', target: '/compute/v2/p1/../../identity/v3/users', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'raw dot segment', target: '/compute/./v2/p1/servers/1', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'trailing dot-dot', target: '/compute/v2/..', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'encoded dot-dot %2e%2e', target: '/compute/v2/%2e%2e/admin', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'mixed encoded dot-dot .%2E', target: '/compute/v2/.%2E/admin', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'encoded single dot %2E', target: '/compute/%2E/v2', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'the ..; trick (Java path parameters)', target: '/compute/v2/..;/admin', detail: TARGET_PROBLEMS.dotSegment },
  { desc: 'a ; path parameter', target: '/compute/v2/p1/servers/1;jsessionid=x', detail: TARGET_PROBLEMS.semicolon },
  { desc: 'encoded NUL %00', target: '/compute/v2/p1/servers/1%00.json', detail: TARGET_PROBLEMS.encodedNul },
  { desc: 'raw NUL (refused by the HTTP parser)', target: '/compute/v2/p1/servers/1\0x' },
  { desc: 'absolute-form target', target: 'http://127.0.0.1/compute/v2/p1/servers/1', detail: TARGET_PROBLEMS.absoluteForm },
  {
    desc: 'absolute-form target to another host',
    target: 'http://evil.example.com/compute/v2/p1/servers/1',
    detail: TARGET_PROBLEMS.absoluteForm,
  },
  { desc: 'asterisk-form target', target: '*', method: 'OPTIONS', detail: TARGET_PROBLEMS.asteriskForm },
  { desc: 'a network-path reference //host/…', target: '//evil.example.com/compute/v2', detail: TARGET_PROBLEMS.leadingDoubleSlash },
  {
    desc: 'an empty segment (//) on a service that does not allow them',
    target: '/compute/v2/p1/servers//x',
    detail: TARGET_PROBLEMS.emptySegment,
  },
  { desc: 'stripPrefix would forward //host/… (issue 23)', target: '/compute//evil.example/admin/x', detail: TARGET_PROBLEMS.emptySegment },
  {
    desc: 'the prefix in another case (issue 23: refused, not routed elsewhere)',
    target: '/Compute/v2/p1/servers/1',
    detail: ROUTE_PROBLEMS.prefixCase,
  },
  { desc: 'a malformed escape', target: '/compute/v2/p1/servers/%zz', detail: TARGET_PROBLEMS.malformedEscape },
  { desc: 'a truncated escape', target: '/compute/v2/p1/servers/%4', detail: TARGET_PROBLEMS.malformedEscape },
  { desc: 'a raw non-ASCII byte (refused by the HTTP parser)', target: '/compute/v2/p1/servers/caf\xe9' },
];

type Accepted = { desc: string; target: string; upstreamUrl: string };

const accepted: Accepted[] = [
  { desc: '%73 (s) is decoded and forwarded decoded', target: '/compute/v2/p1/%73ervers/42', upstreamUrl: '/v2/p1/servers/42' },
  { desc: '%63 in the route prefix is decoded before routing', target: '/%63ompute/v2/p1/servers/42', upstreamUrl: '/v2/p1/servers/42' },
  {
    desc: 'every unreserved escape is decoded',
    target: '/compute/v2/p1/servers/%41%7a%30%2D%2e%5F%7E',
    upstreamUrl: '/v2/p1/servers/Az0-._~',
  },
  {
    desc: 'other escapes are kept, hex upper-cased',
    target: '/compute/v2/p1/servers/a%20b%c3%a9',
    upstreamUrl: '/v2/p1/servers/a%20b%C3%A9',
  },
  { desc: 'an encoded ? stays encoded in the path', target: '/compute/v2/p1/servers/a%3Fb', upstreamUrl: '/v2/p1/servers/a%3Fb' },
  {
    desc: 'the query is forwarded unchanged, escapes and dots included',
    target: '/compute/v2/p1/servers/1?a=%2F..%2f&b=%5c;c=%63',
    upstreamUrl: '/v2/p1/servers/1?a=%2F..%2f&b=%5c;c=%63',
  },
  {
    desc: 'a dot inside a segment is a literal, not a dot segment',
    target: '/compute/v2/p1/servers/a..b/.hidden',
    upstreamUrl: '/v2/p1/servers/a..b/.hidden',
  },
];

describe('400: path safety, on a raw socket', () => {
  const fx = useKeygate();
  const port = (): number => fx.kg.app.port('proxy');

  const send = (method: string, target: string, auth = true): ReturnType<typeof rawRequest> =>
    rawRequest(
      port(),
      Buffer.from(
        requestHead(method, target, [
          ['Host', `127.0.0.1:${port()}`],
          ...(auth ? [['Authorization', AUTH] as const] : []),
          ['Connection', 'close'],
        ]),
        'latin1',
      ),
    );

  describe.each([{ auth: true }, { auth: false }])('with credentials: $auth', ({ auth }) => {
    it.each(rejected)('$desc → 400 bad_target', async ({ target, method, detail }) => {
      const res = await send(method ?? 'GET', target, auth);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(body).toMatchObject({ type: 'about:blank', status: 400, reason: 'bad_target', requestId: expect.any(String) });
      if (detail) expect(body.detail).toBe(detail);
      if (target.length > 1) expect(res.raw).not.toContain(target.slice(1)); // the target is never echoed
      expect(fx.upstream.seen).toHaveLength(0);
    });
  });

  it.each(accepted)('$desc', async ({ target, upstreamUrl }) => {
    const before = fx.upstream.seen.length;
    const res = await send('GET', target);
    expect(res.status).toBe(200);
    expect(fx.upstream.seen).toHaveLength(before + 1);
    expect(Buffer.from(fx.upstream.seen.at(-1)!.url, 'latin1')).toEqual(Buffer.from(upstreamUrl, 'latin1'));
  });

  it('a decoded path is matched as decoded: %73ervers is inside the monitoring key scope', async () => {
    const res = await rawRequest(
      port(),
      requestHead('GET', '/compute/v2/p1/%73ervers/1', [
        ['Host', 'x'],
        ['Authorization', `Bearer ${DEMO_KEYS.monitoring.key}`],
        ['Connection', 'close'],
      ]),
    );
    expect(res.status).toBe(200);
    expect(fx.upstream.seen.at(-1)?.url).toBe('/v2/p1/servers/1');
  });
});
