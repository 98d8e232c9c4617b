import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compilePattern,
  covers,
  matchesPattern,
  normalizeEscapes,
  overlaps,
  pathSegments,
  type PathPattern,
} from '../../../src/policy/pathPattern.js';

function pattern(text: string): PathPattern {
  const p = compilePattern(text);
  if ('error' in p) throw new Error(p.error);
  return p;
}

const matches = (p: string, path: string): boolean => matchesPattern(pattern(p), pathSegments(path));

describe('pathSegments', () => {
  it.each([
    { path: '/', segments: [''] },
    { path: '/a', segments: ['a'] },
    { path: '/a/b/', segments: ['a', 'b', ''] },
    { path: '/a//b', segments: ['a', '', 'b'] },
  ])('$path → $segments', ({ path, segments }) => {
    expect(pathSegments(path)).toEqual(segments);
  });
});

describe('matchesPattern', () => {
  it.each([
    // `**`: zero or more segments
    { desc: '/** matches the root', pattern: '/**', path: '/', match: true },
    { desc: '/** matches one segment', pattern: '/**', path: '/a', match: true },
    { desc: '/** matches many segments', pattern: '/**', path: '/a/b/c/d', match: true },
    { desc: '/a/** matches /a itself (zero segments)', pattern: '/a/**', path: '/a', match: true },
    { desc: '/a/** matches /a/ (one empty segment)', pattern: '/a/**', path: '/a/', match: true },
    { desc: '/a/** matches many segments below /a', pattern: '/a/**', path: '/a/b/c/d', match: true },
    { desc: '/a/** does not match /ab (whole segments)', pattern: '/a/**', path: '/ab', match: false },
    { desc: '/a/** does not match /b/a', pattern: '/a/**', path: '/b/a', match: false },
    { desc: '/**/x matches /x (zero in front)', pattern: '/**/x', path: '/x', match: true },
    { desc: '/**/x matches /a/b/x', pattern: '/**/x', path: '/a/b/x', match: true },
    { desc: '/**/x does not match /a/x/y', pattern: '/**/x', path: '/a/x/y', match: false },
    { desc: '/a/**/z matches /a/z', pattern: '/a/**/z', path: '/a/z', match: true },
    { desc: '/a/**/z matches /a/b/c/z', pattern: '/a/**/z', path: '/a/b/c/z', match: true },
    { desc: '/**/b/** matches /a/b/c', pattern: '/**/b/**', path: '/a/b/c', match: true },
    // `*` and `{name}`: exactly one non-empty segment
    { desc: '/a/* matches one segment', pattern: '/a/*', path: '/a/b', match: true },
    { desc: '/a/* does not match /a (no segment)', pattern: '/a/*', path: '/a', match: false },
    { desc: '/a/* does not match /a/ (empty segment)', pattern: '/a/*', path: '/a/', match: false },
    { desc: '/a/* does not match two segments', pattern: '/a/*', path: '/a/b/c', match: false },
    { desc: '/a/*/c does not match an empty middle segment', pattern: '/a/*/c', path: '/a//c', match: false },
    { desc: '/a/{id} matches one segment', pattern: '/a/{id}', path: '/a/42', match: true },
    { desc: '/a/{id} does not match an empty segment', pattern: '/a/{id}', path: '/a/', match: false },
    { desc: '/a/{id}/b does not match two segments for {id}', pattern: '/a/{id}/b', path: '/a/1/2/b', match: false },
    { desc: '/* does not match the root', pattern: '/*', path: '/', match: false },
    // literals
    { desc: 'a literal matches itself', pattern: '/v2/servers', path: '/v2/servers', match: true },
    { desc: 'literals are case-sensitive', pattern: '/v2/servers', path: '/V2/servers', match: false },
    { desc: '"." in a literal is not a wildcard', pattern: '/v2/file.json', path: '/v2/fileXjson', match: false },
    { desc: '"." in a literal matches a dot', pattern: '/v2/file.json', path: '/v2/file.json', match: true },
    { desc: 'a literal is not a prefix', pattern: '/v2/serv', path: '/v2/servers', match: false },
    { desc: '"+" and "$" are literals too', pattern: '/a+b/$x', path: '/aab/x', match: false },
    { desc: 'a percent-encoded unreserved literal equals the decoded path', pattern: '/%63ompute', path: '/compute', match: true },
    // trailing slash and empty segments
    { desc: '/a/ matches /a/', pattern: '/a/', path: '/a/', match: true },
    { desc: '/a/ does not match /a', pattern: '/a/', path: '/a', match: false },
    { desc: '/a does not match /a/', pattern: '/a', path: '/a/', match: false },
    { desc: '/ matches only the root', pattern: '/', path: '/', match: true },
    { desc: '/ does not match /a', pattern: '/', path: '/a', match: false },
    { desc: 'an empty segment in a pattern is literal', pattern: '/a//b', path: '/a//b', match: true },
    { desc: 'an empty segment in a pattern does not match a non-empty one', pattern: '/a//b', path: '/a/x/b', match: false },
    { desc: '** spans empty segments', pattern: '/a/**', path: '/a//b', match: true },
  ])('$desc', ({ pattern: p, path, match }) => {
    expect(matches(p, path)).toBe(match);
  });
});

describe('compilePattern', () => {
  it('keeps the name of {name} segments', () => {
    expect(pattern('/v2/{project}/x').segments[1]).toEqual({ kind: 'one', name: 'project' });
  });

  it.each([
    { desc: 'a pattern not starting with /', text: 'v2/**' },
    { desc: 'the empty pattern', text: '' },
    { desc: '* inside a segment', text: '/v2/a*' },
    { desc: '** inside a segment', text: '/v2/**x' },
    { desc: '*** as a segment', text: '/***' },
    { desc: 'an unclosed {name}', text: '/v2/{id' },
    { desc: 'a {name} starting with a digit', text: '/v2/{1d}' },
    { desc: 'a {name} sharing its segment', text: '/v2/x{id}' },
    { desc: 'a dot segment', text: '/a/./b' },
    { desc: 'a dot-dot segment', text: '/a/../b' },
    { desc: 'an encoded dot-dot segment', text: '/a/%2e%2e/b' },
    { desc: 'an encoded slash', text: '/a%2Fb' },
    { desc: 'an encoded backslash', text: '/a%5cb' },
    { desc: 'an encoded NUL', text: '/a%00' },
    { desc: 'a space', text: '/a b' },
    { desc: 'a query string', text: '/a?b=1' },
    { desc: 'a backslash', text: '/a\\b' },
    { desc: 'a malformed escape', text: '/a%zz' },
  ])('rejects $desc', ({ text }) => {
    const p = compilePattern(text);
    expect('error' in p).toBe(true);
  });

  it('normalises escapes as the proxy does: unreserved decoded, others upper-cased', () => {
    expect(normalizeEscapes('%63a%7e%20%3a')).toBe('ca~%20%3A');
  });
});

describe('covers', () => {
  it.each([
    { outer: '/**', inner: '/v2/*/servers/**', covers: true },
    { outer: '/v2/**', inner: '/v2/*/servers', covers: true },
    { outer: '/v2/*/servers/**', inner: '/v2/p1/servers/s1', covers: true },
    { outer: '/v2/*', inner: '/v2/{id}', covers: true },
    { outer: '/v2/p1/servers/s1', inner: '/v2/*/servers/s1', covers: false },
    { outer: '/v2/*', inner: '/v2/**', covers: false },
    { outer: '/v2/**', inner: '/v3/**', covers: false },
    { outer: '/a/*', inner: '/a/', covers: false },
  ])('$outer covers $inner: $covers', ({ outer, inner, covers: expected }) => {
    expect(covers(pattern(outer), pattern(inner))).toBe(expected);
  });
});

describe('overlaps', () => {
  it.each([
    { a: '/**', b: '/x', overlaps: true },
    { a: '/v2/*/servers/**', b: '/v2/p1/**', overlaps: true },
    { a: '/v2/*/x', b: '/v2/y/*', overlaps: true },
    { a: '/**/x', b: '/a/**', overlaps: true },
    { a: '/v2/**', b: '/v3/**', overlaps: false },
    { a: '/a/*', b: '/a', overlaps: false },
    { a: '/a/*', b: '/a/', overlaps: false },
    { a: '/a/*/c', b: '/a/b/d', overlaps: false },
  ])('$a and $b: $overlaps', ({ a, b, overlaps: expected }) => {
    expect(overlaps(pattern(a), pattern(b))).toBe(expected);
    expect(overlaps(pattern(b), pattern(a))).toBe(expected);
  });
});

describe('covers and overlaps agree with matching every short path (property)', () => {
  const WORDS = ['a', 'b', '', 'z'];
  const segmentArb = fc.constantFrom('*', '**', '{id}', 'a', 'b', '');
  const patternArb = fc.array(segmentArb, { minLength: 1, maxLength: 4 }).map((s) => pattern(`/${s.join('/')}`));

  function allPaths(maxLength: number): string[][] {
    const out: string[][] = [];
    const grow = (prefix: string[]): void => {
      if (prefix.length) out.push(prefix);
      if (prefix.length < maxLength) for (const w of WORDS) grow([...prefix, w]);
    };
    grow([]);
    return out;
  }
  const PATHS = allPaths(6);

  // covers() is sound, not complete: it may miss that `/**/*//**` covers `/*/**/` (fast-check found
  // that pair, seed -1527431190). A miss only shows a redundant rule; a wrong `true` would hide one.
  it('covers(a, b) only when every path b matches, a matches too', () => {
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const counterexample = PATHS.find((p) => matchesPattern(b, p) && !matchesPattern(a, p));
        if (covers(a, b)) expect(counterexample).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('covers(a, b) exactly when b has no `**`', () => {
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        fc.pre(!b.segments.some((s) => s.kind === 'many'));
        const counterexample = PATHS.find((p) => matchesPattern(b, p) && !matchesPattern(a, p));
        expect(covers(a, b)).toBe(counterexample === undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('overlaps(a, b) exactly when some path matches both', () => {
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const witness = PATHS.find((p) => matchesPattern(a, p) && matchesPattern(b, p));
        expect(overlaps(a, b)).toBe(witness !== undefined);
      }),
      { numRuns: 2000 },
    );
  });
});
