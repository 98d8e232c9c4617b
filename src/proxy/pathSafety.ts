/**
 * Path safety (SPEC §3): turn a raw request target (Node's `req.url`, undecoded)
 * into the one path that is both matched against rules and forwarded upstream.
 *
 * The invariant is "checked == forwarded, byte for byte": this module never
 * produces a path that an upstream could read differently from the matcher.
 * Anything ambiguous is rejected (the caller answers 400 `bad_target`) rather
 * than repaired. Pure: no I/O, no logger, no throwing for bad input.
 */

export type TargetResult =
  /** `path`: normalised, starts with exactly one '/'; `query`: '' or '?...' exactly as received. */
  | { ok: true; path: string; query: string }
  /** `detail`: one of TARGET_PROBLEMS; never echoes the input, so it is safe to log or show. */
  | { ok: false; detail: string };

export interface TargetOptions {
  /** The service opted in to `;` path parameters. `..;`-style dot segments stay rejected. */
  allowSemicolon?: boolean;
}

export const MAX_TARGET_LENGTH = 8192;

/** Every rejection reason. Tests and callers compare against these, never against text. */
export const TARGET_PROBLEMS = Object.freeze({
  tooLong: `request target longer than ${MAX_TARGET_LENGTH} characters`,
  empty: 'empty request target',
  asteriskForm: 'asterisk-form target (*) not accepted',
  absoluteForm: 'absolute-form target (scheme://) not accepted',
  notOriginForm: 'request target must start with /',
  leadingDoubleSlash: 'request target starts with //',
  nul: 'NUL in request target',
  controlChar: 'control character or space in request target',
  fragment: 'fragment (#) in request target',
  notByte: 'character above 0xFF in request target',
  nonAscii: 'non-ASCII byte in path',
  malformedEscape: 'malformed percent-escape in path',
  encodedSlash: 'encoded slash (%2F) in path',
  encodedBackslash: 'encoded backslash (%5C) in path',
  encodedNul: 'encoded NUL (%00) in path',
  backslash: 'backslash in path',
  semicolon: 'semicolon (;) in path',
  dotSegment: 'dot segment (. or ..) in path',
  emptySegment: 'empty path segment (//) in path; the service does not allow them (route.allowEmptySegments)',
});

export type TargetProblem = keyof typeof TARGET_PROBLEMS;

type Step<T> = { ok: true; value: T } | { ok: false; problem: TargetProblem };

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export function parseTarget(rawTarget: string, options: TargetOptions = {}): TargetResult {
  const checked = checkTarget(rawTarget);
  if (!checked.ok) return reject(checked.problem);
  const queryStart = rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rawTarget.slice(queryStart);
  const allowSemicolon = options.allowSemicolon === true;
  const path = normalisePath(rawPath, allowSemicolon);
  if (!path.ok) return reject(path.problem);
  if (hasDotSegment(path.value)) return reject('dotSegment');
  return { ok: true, path: path.value, query };
}

/**
 * The segments of a path as the rule matcher sees them: everything after the
 * leading '/', split on every '/'. Nothing is collapsed or dropped, so the matcher
 * compares exactly what is forwarded:
 *   '/'       -> ['']
 *   '/a/b'    -> ['a', 'b']
 *   '/a/b/'   -> ['a', 'b', '']     (a trailing slash is a final empty segment)
 *   '/a//b'   -> ['a', '', 'b']     (an inner '//' is a literal empty segment)
 * `path` must start with '/' (a parseTarget path, or '/' when stripPrefix leaves
 * nothing); anything else is a caller bug and throws.
 */
export function splitSegments(path: string): string[] {
  if (!path.startsWith('/')) throw new TypeError('splitSegments: path must start with "/"');
  return path.slice(1).split('/');
}

function reject(problem: TargetProblem): TargetResult {
  return { ok: false, detail: TARGET_PROBLEMS[problem] };
}

/** Form, length and the characters that are never acceptable anywhere, query included. */
function checkTarget(raw: string): Step<void> {
  if (raw.length > MAX_TARGET_LENGTH) return fail('tooLong');
  const form = checkOriginForm(raw);
  if (!form.ok) return form;
  for (let i = 0; i < raw.length; i++) {
    const problem = anywhereProblem(raw.charCodeAt(i));
    if (problem !== undefined) return fail(problem);
  }
  return { ok: true, value: undefined };
}

function checkOriginForm(raw: string): Step<void> {
  if (raw === '') return fail('empty');
  if (raw === '*') return fail('asteriskForm');
  if (ABSOLUTE_FORM.test(raw)) return fail('absoluteForm');
  if (!raw.startsWith('/')) return fail('notOriginForm');
  // '//evil.com/x' is a network-path reference: upstreams that resolve the target
  // as a URL (or log/redirect with it) would read 'evil.com' as a host.
  if (raw.startsWith('//')) return fail('leadingDoubleSlash');
  return { ok: true, value: undefined };
}

/**
 * Node keeps a raw '#' in req.url; forwarding it would send a fragment
 * upstream (RFC 9112 has none in a request target), so the query may not
 * carry one either. Node decodes the target as latin1, so a real request never
 * holds a char above 0xFF; one can only come from a caller that built the
 * string itself.
 */
function anywhereProblem(code: number): TargetProblem | undefined {
  if (code === 0x00) return 'nul';
  if (code <= 0x20 || code === 0x7f) return 'controlChar';
  if (code === 0x23) return 'fragment';
  if (code > 0xff) return 'notByte';
  return undefined;
}

/**
 * Decode escapes of unreserved characters, uppercase the hex of every other
 * escape, and reject characters that upstreams disagree about. Copies the raw
 * text between escapes unchanged.
 */
function normalisePath(raw: string, allowSemicolon: boolean): Step<string> {
  let out = '';
  let copiedUpTo = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch !== '%') {
      const problem = pathCharProblem(ch, allowSemicolon);
      if (problem !== undefined) return fail(problem);
      continue;
    }
    const escape = normaliseEscape(raw.slice(i + 1, i + 3));
    if (!escape.ok) return escape;
    out += raw.slice(copiedUpTo, i) + escape.value;
    i += 2;
    copiedUpTo = i + 1;
  }
  return { ok: true, value: out + raw.slice(copiedUpTo) };
}

/**
 * Non-ASCII bytes arrive as latin1 chars 0x80-0xFF: Node's default parser
 * already refuses them in a request line, but targets from check-API headers
 * (X-Original-URI, X-Forwarded-Uri allow obs-text) and insecureHTTPParser do
 * not. Upstreams re-encode such bytes as UTF-8, percent-encode or reject them,
 * each differently, so the path they see would not be the one we matched;
 * clients must percent-encode.
 */
function pathCharProblem(ch: string, allowSemicolon: boolean): TargetProblem | undefined {
  if (ch === '\\') return 'backslash';
  if (ch === ';' && !allowSemicolon) return 'semicolon';
  if (ch.charCodeAt(0) > 0x7e) return 'nonAscii';
  return undefined;
}

function normaliseEscape(hex: string): Step<string> {
  if (!HEX_PAIR.test(hex)) return fail('malformedEscape');
  const char = String.fromCharCode(Number.parseInt(hex, 16));
  if (char === '/') return fail('encodedSlash');
  if (char === '\\') return fail('encodedBackslash');
  if (char === '\0') return fail('encodedNul');
  if (UNRESERVED.test(char)) return { ok: true, value: char };
  return { ok: true, value: `%${hex.toUpperCase()}` };
}

/**
 * Runs on the normalised path, so '%2e' and '.%2E' are already '.' and '..'.
 * A segment's part before ';' counts too: Java servers strip ';...' path
 * parameters and then resolve '..;' as '..' (the /public/..;/admin trick).
 */
function hasDotSegment(path: string): boolean {
  // Every segment follows a '/': look only where one starts with '.' (no split, no
  // array per request: this runs on every request's path).
  for (let at = path.indexOf('/.'); at !== -1; at = path.indexOf('/.', at + 1)) {
    const next = at + 2 < path.length && path[at + 2] === '.' ? at + 3 : at + 2;
    if (next >= path.length || path[next] === '/' || path[next] === ';') return true;
  }
  return false;
}

function fail(problem: TargetProblem): { ok: false; problem: TargetProblem } {
  return { ok: false, problem };
}
