/**
 * Path patterns: `*` one non-empty segment, `**` zero or more segments, `{name}` a named
 * single segment, anything else a literal compared byte for byte. `.` and friends are
 * never wildcards.
 */
export type PatternSegment = { kind: 'literal'; value: string } | { kind: 'one'; name?: string } | { kind: 'many' };

export interface PathPattern {
  readonly text: string;
  readonly segments: readonly PatternSegment[];
}

const NAMED = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,;=:@]|%[0-9A-Fa-f]{2})*$/;

export function compilePattern(text: string): PathPattern | { error: string } {
  if (!text.startsWith('/')) return { error: `path pattern "${text}" must start with "/"` };
  const segments: PatternSegment[] = [];
  for (const raw of text.slice(1).split('/')) {
    const seg = compileSegment(raw);
    if ('error' in seg) return { error: `path pattern "${text}": ${seg.error}` };
    segments.push(seg);
  }
  return Object.freeze({ text, segments: Object.freeze(segments) });
}

function compileSegment(raw: string): PatternSegment | { error: string } {
  if (raw === '**') return { kind: 'many' };
  if (raw === '*') return { kind: 'one' };
  const named = NAMED.exec(raw);
  if (named) return { kind: 'one', name: named[1] };
  if (raw.includes('*')) return { error: `"${raw}": "*" and "**" must be whole segments` };
  if (raw.includes('{') || raw.includes('}')) return { error: `"${raw}": a named segment is "{name}"` };
  if (!LITERAL.test(raw)) return { error: `"${raw}" has characters that are not allowed in a path` };
  const value = normalizeEscapes(raw);
  if (value === '.' || value === '..') return { error: 'dot segments can never match a request' };
  if (/%2F|%5C|%00/.test(value)) return { error: `"${raw}": encoded "/", "\\" or NUL can never match a request` };
  return { kind: 'literal', value };
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The same normalisation the proxy applies to request paths, so a literal matches what is forwarded. */
export function normalizeEscapes(segment: string): string {
  return segment.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
}

/** Path segments as the matcher sees them: "/" is [""], "/a/b/" is ["a", "b", ""]. */
export function pathSegments(path: string): string[] {
  return path.slice(1).split('/');
}

export function matchesPattern(pattern: PathPattern, segments: readonly string[]): boolean {
  return matchFrom(pattern.segments, 0, segments, 0);
}

function matchFrom(pat: readonly PatternSegment[], pi: number, segs: readonly string[], si: number): boolean {
  if (pi === pat.length) return si === segs.length;
  const p = pat[pi];
  if (p.kind === 'many') {
    for (let k = si; k <= segs.length; k++) if (matchFrom(pat, pi + 1, segs, k)) return true;
    return false;
  }
  if (si === segs.length) return false;
  if (p.kind === 'one' ? segs[si] === '' : segs[si] !== p.value) return false;
  return matchFrom(pat, pi + 1, segs, si + 1);
}

/** True when `outer` matches every path that `inner` matches (used to show effective rules). */
export function covers(outer: PathPattern, inner: PathPattern): boolean {
  return coversFrom(outer.segments, 0, inner.segments, 0);
}

function coversFrom(o: readonly PatternSegment[], oi: number, n: readonly PatternSegment[], ni: number): boolean {
  if (oi === o.length) return ni === n.length;
  const p = o[oi];
  if (p.kind === 'many') {
    for (let k = ni; k <= n.length; k++) if (coversFrom(o, oi + 1, n, k)) return true;
    return false;
  }
  if (ni === n.length) return false;
  const q = n[ni];
  if (q.kind === 'many') return false;
  if (p.kind === 'literal' && (q.kind !== 'literal' || q.value !== p.value)) return false;
  if (p.kind === 'one' && q.kind === 'literal' && q.value === '') return false; // `*` never matches an empty segment
  return coversFrom(o, oi + 1, n, ni + 1);
}

/** True when some path matches both patterns. */
export function overlaps(a: PathPattern, b: PathPattern): boolean {
  return overlapFrom(a.segments, 0, b.segments, 0, false);
}

/**
 * True when some path matches `a` in one of its readings (pathReadings.ts) and `b` — used to
 * tell whether a deny rule or guardrail can touch what a key is allowed. Errs towards true:
 * literals meet when they are equal lower-cased or once a `;…` or `.ext` is dropped, and an
 * empty literal segment may be dropped.
 */
export function overlapsSomeReading(a: PathPattern, b: PathPattern): boolean {
  return overlapFrom(a.segments, 0, b.segments, 0, true);
}

function overlapFrom(a: readonly PatternSegment[], i: number, b: readonly PatternSegment[], j: number, loose: boolean): boolean {
  if (i === a.length && j === b.length) return true;
  if (loose && (droppable(a, i) ? overlapFrom(a, i + 1, b, j, loose) : false)) return true;
  if (loose && (droppable(b, j) ? overlapFrom(a, i, b, j + 1, loose) : false)) return true;
  if (i < a.length && a[i].kind === 'many') {
    return overlapFrom(a, i + 1, b, j, loose) || (j < b.length && overlapFrom(a, i, b, j + 1, loose));
  }
  if (j < b.length && b[j].kind === 'many') return overlapFrom(b, j, a, i, loose);
  if (i === a.length || j === b.length) return false;
  const p = a[i];
  const q = b[j];
  if (p.kind === 'literal' && q.kind === 'literal' && !(loose ? literalsMeet(p.value, q.value) : p.value === q.value)) return false;
  if ((p.kind === 'literal' && p.value === '' && q.kind === 'one') || (q.kind === 'literal' && q.value === '' && p.kind === 'one'))
    return false;
  return overlapFrom(a, i + 1, b, j + 1, loose);
}

function droppable(pattern: readonly PatternSegment[], i: number): boolean {
  const seg = pattern[i];
  return i < pattern.length && seg.kind === 'literal' && seg.value === '';
}

function literalsMeet(x: string, y: string): boolean {
  const a = x.toLowerCase();
  const b = y.toLowerCase();
  if (a === b) return true;
  const aa = spellings(a);
  const bb = spellings(b);
  return aa.some((s) => bb.includes(s));
}

/** A literal, without its `;…`, and without a `.ext` (either way round). */
function spellings(literal: string): string[] {
  const bare = literal.split(';', 1)[0];
  const out = [literal, bare];
  for (const s of [literal, bare]) {
    const dot = s.lastIndexOf('.');
    if (dot > 0) out.push(s.slice(0, dot));
  }
  return out;
}
