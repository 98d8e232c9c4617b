import { describe, expect, it } from 'vitest';
import { REASONS } from '../../../src/errors.js';
import { upstreamErrorKind, upstreamFailure } from '../../../src/proxy/upstreamError.js';

function coded(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`failed: ${code}`), { code }, extra);
}

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

describe('upstreamFailure', () => {
  it.each([
    { desc: 'a timeout answers 504', err: coded('UND_ERR_HEADERS_TIMEOUT'), reason: 'upstream_timeout', status: 504 },
    { desc: 'a refused connection answers 502', err: coded('ECONNREFUSED'), reason: 'upstream_failed', status: 502 },
    { desc: 'a reset answers 502', err: coded('ECONNRESET'), reason: 'upstream_failed', status: 502 },
    { desc: 'anything else answers 502', err: 'boom', reason: 'upstream_failed', status: 502 },
  ] as const)('$desc', ({ err, reason, status }) => {
    const failure = upstreamFailure(err);
    expect(failure.reason).toBe(reason);
    expect(REASONS[failure.reason].status).toBe(status);
  });

  it("keeps the error's own code, or its cause's", () => {
    expect(upstreamFailure(coded('ECONNRESET')).code).toBe('ECONNRESET');
    expect(upstreamFailure(new TypeError('fetch failed', { cause: coded('ECONNREFUSED') })).code).toBe('ECONNREFUSED');
    expect(upstreamFailure(new Error('x')).code).toBe('UNKNOWN');
  });
});
