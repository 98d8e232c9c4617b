import { describe, expect, it } from 'vitest';
import { methodLabel, serviceLabel, statusClass, upstreamErrorKind } from '../../../src/observability/labels.js';

function coded(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`failed: ${code}`), { code }, extra);
}

describe('label values', () => {
  it.each(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'])('keeps the standard method %s', (m) => {
    expect(methodLabel(m)).toBe(m);
  });

  it.each(['get', 'Post', 'PROPFIND', 'MKCOL', '', 'GET /admin'])('collapses %j to other', (m) => {
    expect(methodLabel(m)).toBe('other');
  });

  it('names a missing service none', () => {
    expect(serviceLabel(undefined)).toBe('none');
    expect(serviceLabel('')).toBe('none');
    expect(serviceLabel('compute')).toBe('compute');
  });

  it.each([
    [100, '1xx'], [101, '1xx'], [200, '2xx'], [299, '2xx'], [304, '3xx'], [404, '4xx'], [499, '4xx'], [500, '5xx'], [599, '5xx'],
  ] as const)('classifies status %i as %s', (status, cls) => {
    expect(statusClass(status)).toBe(cls);
  });
});

describe('upstreamErrorKind', () => {
  it.each([
    { desc: 'refused connection', err: coded('ECONNREFUSED'), kind: 'connect' },
    { desc: 'unknown host', err: coded('ENOTFOUND'), kind: 'connect' },
    { desc: 'undici connect timeout (never connected)', err: coded('UND_ERR_CONNECT_TIMEOUT'), kind: 'timeout' },
    { desc: 'undici headers timeout', err: coded('UND_ERR_HEADERS_TIMEOUT'), kind: 'timeout' },
    { desc: 'undici body timeout', err: coded('UND_ERR_BODY_TIMEOUT'), kind: 'timeout' },
    { desc: 'reset by peer', err: coded('ECONNRESET'), kind: 'reset' },
    { desc: 'undici socket error', err: coded('UND_ERR_SOCKET'), kind: 'reset' },
    { desc: 'refusal wrapped in a cause', err: new TypeError('fetch failed', { cause: coded('ECONNREFUSED') }), kind: 'connect' },
    { desc: 'happy eyeballs AggregateError', err: new AggregateError([coded('ECONNREFUSED'), coded('EHOSTUNREACH')]), kind: 'connect' },
    { desc: 'unknown code', err: coded('EWHATEVER'), kind: 'other' },
    { desc: 'not an error', err: 'boom', kind: 'other' },
    { desc: 'null', err: null, kind: 'other' },
  ])('$desc → $kind', ({ err, kind }) => {
    expect(upstreamErrorKind(err)).toBe(kind);
  });

  it('survives a cause cycle', () => {
    const a = coded('EWHATEVER');
    (a as Error & { cause: unknown }).cause = a;
    expect(upstreamErrorKind(a)).toBe('other');
  });
});
