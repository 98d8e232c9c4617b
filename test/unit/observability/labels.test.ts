import { describe, expect, it } from 'vitest';
import { methodLabel, serviceLabel, statusClass } from '../../../src/observability/labels.js';

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
    [100, '1xx'],
    [101, '1xx'],
    [200, '2xx'],
    [299, '2xx'],
    [304, '3xx'],
    [404, '4xx'],
    [499, '4xx'],
    [500, '5xx'],
    [599, '5xx'],
  ] as const)('classifies status %i as %s', (status, cls) => {
    expect(statusClass(status)).toBe(cls);
  });
});
