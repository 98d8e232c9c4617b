import { describe, expect, it } from 'vitest';
import { isValidRequestId, requestIdFrom } from '../../../src/observability/requestId.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it.each(['abc', 'a', 'A-Za-z0-9._:-', '0f8fad5b-d9cb-469f-a165-70867728950e', 'x'.repeat(128)])('keeps the valid inbound id %j', (id) => {
    expect(requestIdFrom(id)).toBe(id);
  });

  it.each([
    { desc: 'missing', header: undefined },
    { desc: 'empty', header: '' },
    { desc: '129 characters', header: 'x'.repeat(129) },
    { desc: 'a space', header: 'a b' },
    { desc: 'two ids joined by node', header: 'a, b' },
    { desc: 'a newline (log injection)', header: 'a\nb' },
    { desc: 'a slash', header: 'a/b' },
    { desc: 'non-ASCII', header: 'ümlaut' },
    { desc: 'a JSON fragment', header: '"}{"x":1' },
    { desc: 'two different values', header: ['a', 'b'] },
    { desc: 'an empty list', header: [] },
  ])('generates a fresh id when the inbound one is $desc', ({ header }) => {
    const id = requestIdFrom(header);
    expect(id).toMatch(UUID);
    expect(isValidRequestId(id)).toBe(true);
  });

  it('accepts a single-element list', () => {
    expect(requestIdFrom(['abc'])).toBe('abc');
  });

  it('generates a different id each time', () => {
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });
});
