import { describe, expect, it } from 'vitest';
import { clientResponseHeaders } from '../../../src/proxy/headers.js';

describe('clientResponseHeaders', () => {
  const base = { 'content-type': 'application/json', 'content-length': '2', 'keep-alive': 'timeout=5', 'x-a': '1', close: 'odd' };

  it.each([
    ['keep-alive', ['content-type', 'content-length', 'x-a', 'close', 'x-request-id']],
    ['close', ['content-type', 'content-length', 'x-a', 'x-request-id']],
    ['Keep-Alive, X-A', ['content-type', 'content-length', 'close', 'x-request-id']],
    [
      ['keep-alive', 'x-a'],
      ['content-type', 'content-length', 'close', 'x-request-id'],
    ],
  ])('Connection: %j drops hop-by-hop and listed headers', (connection, kept) => {
    const out = clientResponseHeaders({ ...base, connection }, 'req-1');
    expect(Object.keys(out)).toEqual(kept);
    expect(out['x-request-id']).toBe('req-1');
  });
});
