import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_TARGET_LENGTH,
  TARGET_PROBLEMS,
  parseTarget,
  splitSegments,
  type TargetOptions,
  type TargetProblem,
} from '../../../src/proxy/pathSafety.js';

interface AcceptCase {
  description: string;
  target: string;
  path: string;
  query?: string;
  options?: TargetOptions;
}

interface RejectCase {
  description: string;
  target: string;
  problem: TargetProblem;
  options?: TargetOptions;
}

const SEMICOLONS: TargetOptions = { allowSemicolon: true };

const accepted: AcceptCase[] = [
  { description: 'root', target: '/', path: '/' },
  { description: 'plain path', target: '/compute/v2/servers', path: '/compute/v2/servers' },
  { description: 'trailing slash kept', target: '/a/b/', path: '/a/b/' },
  { description: 'inner empty segment kept, not collapsed', target: '/a//b', path: '/a//b' },
  { description: 'escaped unreserved letter decoded', target: '/%63ompute', path: '/compute' },
  { description: 'escaped unreserved, upper and lower hex', target: '/%7E%7eu', path: '/~~u' },
  { description: 'escaped digit, dash, underscore decoded', target: '/%31%2D%5F', path: '/1-_' },
  { description: 'escaped dot inside a name decoded', target: '/a%2Ejson', path: '/a.json' },
  { description: 'other escapes kept, hex uppercased', target: '/caf%c3%a9', path: '/caf%C3%A9' },
  { description: 'escaped percent kept, not decoded twice', target: '/a%252e', path: '/a%252e' },
  { description: 'escaped space kept', target: '/a%20b', path: '/a%20b' },
  { description: 'escaped semicolon kept', target: '/a%3bb', path: '/a%3Bb' },
  { description: 'dots inside names are not dot segments', target: '/a./..b/.../.x', path: '/a./..b/.../.x' },
  { description: 'empty query kept', target: '/x?', path: '/x', query: '?' },
  { description: 'query passes unchanged', target: '/x?a=%2F..', path: '/x', query: '?a=%2F..' },
  {
    description: 'query never validated beyond controls',
    target: '/x?a=..;/b\\c%zz%00?d',
    path: '/x',
    query: '?a=..;/b\\c%zz%00?d',
  },
  { description: 'query after root', target: '/?a=1', path: '/', query: '?a=1' },
  { description: 'query split at first ?', target: '/a%3F?b?c', path: '/a%3F', query: '?b?c' },
  { description: 'non-ASCII in query passes', target: '/x?q=caf\u00e9', path: '/x', query: '?q=caf\u00e9' },
  { description: 'semicolon allowed when opted in', target: '/a;v=1/b', path: '/a;v=1/b', options: SEMICOLONS },
  { description: 'opted-in semicolon after a dot-prefixed name', target: '/.a;x', path: '/.a;x', options: SEMICOLONS },
  {
    description: 'target at the length bound',
    target: `/${'a'.repeat(MAX_TARGET_LENGTH - 1)}`,
    path: `/${'a'.repeat(MAX_TARGET_LENGTH - 1)}`,
  },
];

const rejected: RejectCase[] = [
  { description: 'empty target', target: '', problem: 'empty' },
  { description: 'asterisk-form', target: '*', problem: 'asteriskForm' },
  { description: 'absolute-form', target: 'http://h/x', problem: 'absoluteForm' },
  { description: 'absolute-form, other scheme', target: 'HTTPS://h', problem: 'absoluteForm' },
  { description: 'authority-form', target: 'example.com:443', problem: 'notOriginForm' },
  { description: 'relative path', target: 'a/b', problem: 'notOriginForm' },
  { description: 'query-only target', target: '?a=1', problem: 'notOriginForm' },
  { description: 'leading double slash (network-path)', target: '//evil.com/x', problem: 'leadingDoubleSlash' },
  { description: 'too long', target: `/${'a'.repeat(MAX_TARGET_LENGTH)}`, problem: 'tooLong' },
  { description: 'encoded slash, upper', target: '/a%2Fb', problem: 'encodedSlash' },
  { description: 'encoded slash, lower', target: '/a%2fb', problem: 'encodedSlash' },
  { description: 'encoded backslash, upper', target: '/a%5Cb', problem: 'encodedBackslash' },
  { description: 'encoded backslash, lower', target: '/a%5cb', problem: 'encodedBackslash' },
  { description: 'raw backslash', target: '/a\\b', problem: 'backslash' },
  { description: 'raw backslash as a separator', target: '/a\\..\\admin', problem: 'backslash' },
  { description: 'raw NUL in path', target: '/a\u0000', problem: 'nul' },
  { description: 'raw NUL in query', target: '/a?b=\u0000', problem: 'nul' },
  { description: 'encoded NUL', target: '/a%00', problem: 'encodedNul' },
  { description: 'raw space', target: '/a b', problem: 'controlChar' },
  { description: 'raw tab', target: '/a\tb', problem: 'controlChar' },
  { description: 'raw CR LF in path', target: '/a\r\nX: y', problem: 'controlChar' },
  { description: 'raw DEL', target: '/a\u007f', problem: 'controlChar' },
  { description: 'raw space in query', target: '/a?b c', problem: 'controlChar' },
  { description: 'raw LF in query', target: '/a?b\n', problem: 'controlChar' },
  { description: 'raw # in path', target: '/a#frag', problem: 'fragment' },
  { description: 'raw # in query', target: '/a?b#frag', problem: 'fragment' },
  { description: 'non-ASCII byte (latin1 char) in path', target: '/caf\u00e9', problem: 'nonAscii' },
  { description: 'C1 byte in path', target: '/a\u0085', problem: 'nonAscii' },
  { description: 'char above 0xFF (not a wire byte)', target: '/a?\u20ac', problem: 'notByte' },
  { description: 'lone percent', target: '/a%', problem: 'malformedEscape' },
  { description: 'one hex digit', target: '/a%4', problem: 'malformedEscape' },
  { description: 'non-hex digits', target: '/a%zz', problem: 'malformedEscape' },
  { description: 'half-hex digits', target: '/a%4g', problem: 'malformedEscape' },
  { description: 'raw dot segment', target: '/a/./b', problem: 'dotSegment' },
  { description: 'raw dot-dot segment', target: '/a/../b', problem: 'dotSegment' },
  { description: 'trailing dot-dot', target: '/a/..', problem: 'dotSegment' },
  { description: 'leading dot segment', target: '/./a', problem: 'dotSegment' },
  { description: 'dot-dot before query', target: '/a/..?x', problem: 'dotSegment' },
  { description: 'encoded dot segment', target: '/a/%2e/b', problem: 'dotSegment' },
  { description: 'encoded dot-dot, lower', target: '/a/%2e%2e/b', problem: 'dotSegment' },
  { description: 'encoded dot-dot, mixed case', target: '/a/%2E%2e/b', problem: 'dotSegment' },
  { description: 'half-encoded dot-dot', target: '/a/.%2E/b', problem: 'dotSegment' },
  { description: 'half-encoded dot-dot, other half', target: '/a/%2e./b', problem: 'dotSegment' },
  { description: 'dot-dot-semicolon trick, default', target: '/public/..;/admin', problem: 'semicolon' },
  { description: 'semicolon path parameter, default', target: '/a;jsessionid=1', problem: 'semicolon' },
  { description: 'semicolon, explicitly not allowed', target: '/a;b', problem: 'semicolon', options: { allowSemicolon: false } },
  { description: 'dot-dot-semicolon trick, opted in', target: '/public/..;/admin', problem: 'dotSegment', options: SEMICOLONS },
  { description: 'dot-semicolon, opted in', target: '/a/.;x/b', problem: 'dotSegment', options: SEMICOLONS },
  { description: 'encoded dot-dot-semicolon, opted in', target: '/public/%2E%2e;x=1/admin', problem: 'dotSegment', options: SEMICOLONS },
];

describe('parseTarget accepts', () => {
  it.each(accepted)('$description: $target', ({ target, path, query = '', options }) => {
    expect(parseTarget(target, options)).toEqual({ ok: true, path, query });
  });
});

describe('parseTarget rejects', () => {
  it.each(rejected)('$description: $target', ({ target, problem, options }) => {
    expect(parseTarget(target, options)).toEqual({ ok: false, detail: TARGET_PROBLEMS[problem] });
  });
});

describe('splitSegments', () => {
  const cases: { description: string; path: string; segments: string[] }[] = [
    { description: 'root is one empty segment', path: '/', segments: [''] },
    { description: 'plain path', path: '/a/b', segments: ['a', 'b'] },
    { description: 'trailing slash is a final empty segment', path: '/a/b/', segments: ['a', 'b', ''] },
    { description: 'inner // is a literal empty segment', path: '/a//b', segments: ['a', '', 'b'] },
  ];
  it.each(cases)('$description: $path', ({ path, segments }) => {
    expect(splitSegments(path)).toEqual(segments);
  });

  it('throws on a path without a leading slash (a caller bug)', () => {
    expect(() => splitSegments('a/b')).toThrow(TypeError);
    expect(() => splitSegments('')).toThrow(TypeError);
  });
});

describe('parseTarget properties', () => {
  // Pieces chosen to hit every rule often; plain random strings almost never
  // form an escape or a dot segment.
  const piece = fc.oneof(
    fc.constantFrom(
      '/',
      '//',
      'a',
      'B',
      '.',
      '..',
      '%2e',
      '%2E',
      '%2f',
      '%5C',
      '%63',
      '%7e',
      '%c3',
      '%A9',
      '%25',
      '%3b',
      '%00',
      '%',
      '%4',
      '%zz',
      ';',
      '..;',
      '?',
      '#',
      '\\',
      ' ',
      '~',
      '=',
      '&',
      '\u00e9',
    ),
    fc.string({ unit: 'binary-ascii', maxLength: 3 }),
  );
  const target = fc.array(piece, { maxLength: 12 }).map((pieces) => `/${pieces.join('')}`);
  const options = fc.record({ allowSemicolon: fc.boolean() });

  it('is idempotent on accepted targets and never yields a dot segment', () => {
    fc.assert(
      fc.property(target, options, (raw, opts) => {
        const first = parseTarget(raw, opts);
        if (!first.ok) return;
        expect(parseTarget(first.path + first.query, opts)).toEqual(first);
        expect(first.path.startsWith('/') && !first.path.startsWith('//')).toBe(true);
        for (const segment of splitSegments(first.path)) {
          const name = segment.split(';', 1)[0];
          expect(name === '.' || name === '..').toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps only uppercase escapes that are not unreserved, slash, backslash or NUL', () => {
    fc.assert(
      fc.property(target, options, (raw, opts) => {
        const result = parseTarget(raw, opts);
        if (!result.ok) return;
        for (const [, hex] of result.path.matchAll(/%(.{0,2})/g)) {
          expect(hex).toMatch(/^[0-9A-F]{2}$/);
          const char = String.fromCharCode(Number.parseInt(hex, 16));
          expect(char).not.toMatch(/[A-Za-z0-9\-._~/\\\0]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('dot segments', () => {
  // The segment-by-segment reading the scan without allocations must agree with.
  const bySegments = (path: string): boolean => splitSegments(path).some((segment) => ['.', '..'].includes(segment.split(';', 1)[0]));

  it('are refused exactly where a segment (before any ;) is . or ..', () => {
    const path = fc.array(fc.constantFrom('a', '.', ';', '/'), { maxLength: 10 }).map((cs) => `/a${cs.join('')}`);
    fc.assert(
      fc.property(path, (p) => {
        const parsed = parseTarget(p, { allowSemicolon: true });
        const refused = !parsed.ok && parsed.detail === TARGET_PROBLEMS.dotSegment;
        const other = !parsed.ok && !refused;
        expect(other || refused === bySegments(p)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
