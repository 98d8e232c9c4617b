/**
 * The ways a common upstream may read a request path other than byte for byte. Deny rules
 * and guardrails match every reading (any match denies): a denial must hold however the
 * upstream routes. Allow rules match the path itself only (that direction fails closed), or
 * its lower-cased form on a service declared `caseInsensitive`.
 *
 *   reading                  upstreams that read it so                  how it is matched
 *   lower-cased              Express, ASP.NET, Spring (some setups)     rules and path compared lower-cased
 *   no trailing slash        Express (non-strict), Rails, Spring 5      an empty last segment may be skipped
 *   repeated slashes merged  Tomcat, Spring, nginx `merge_slashes`      every empty segment may be skipped
 *   `;…` dropped             Java servlet containers (`;jsessionid`)    each segment also without its `;…`
 *   `.ext` dropped           Rails `(.:format)`, Spring suffix patterns the last segment also without `.ext`
 *
 * (`GET` covering `HEAD` is the method side of the same idea; see RuleMatcher.matchAnyReading.)
 * Computed once per request. A path none of these change — lower case, no empty segment, no
 * `;`, no `.` in its last segment — costs one scan and allocates nothing.
 */
export interface PathReadings {
  /** The service routes case-insensitively: allow rules compare lower-cased too. */
  readonly caseInsensitive: boolean;
  /** The segments lower-cased; undefined when that changes nothing. */
  readonly folded: readonly string[] | undefined;
  /** Per segment index, its other spellings (already lower-cased); undefined when no segment has one. */
  readonly alternates: readonly (readonly string[] | undefined)[] | undefined;
  /** Where the path ends without its trailing slash(es) (a segment index), or -1 when it has none. */
  readonly trailingEnd: number;
  /** A reading drops a segment before that end: an empty one (`//`) or one that is only `;…`. */
  readonly dropsSegments: boolean;
}

/** The readings of a path no reading changes (shared: such a path allocates nothing). */
export const LITERAL_READINGS: PathReadings = Object.freeze({
  caseInsensitive: false,
  folded: undefined,
  alternates: undefined,
  trailingEnd: -1,
  dropsSegments: false,
});
const LITERAL_CASE_INSENSITIVE: PathReadings = Object.freeze({ ...LITERAL_READINGS, caseInsensitive: true });

const UPPER_A = 65;
const UPPER_Z = 90;
const SEMICOLON = 59;

export function readingsOf(segments: readonly string[], caseInsensitive = false): PathReadings {
  let upper = false;
  let semicolon = false;
  let empties = 0;
  let last = -1;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '') {
      empties++;
      continue;
    }
    last = i;
    for (let j = 0; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c >= UPPER_A && c <= UPPER_Z) upper = true;
      else if (c === SEMICOLON) semicolon = true;
    }
  }
  const trailing = segments.length - 1 - last;
  const trailingEnd = last !== -1 && trailing > 0 ? last + 1 : -1;
  const innerEmpty = segments.length > 1 && (last === -1 || empties > trailing || trailing > 1); // `//` anywhere, the end included
  const format = last !== -1 && hasFormat(segments[last]);
  if (!upper && !semicolon && trailingEnd === -1 && !innerEmpty && !format)
    return caseInsensitive ? LITERAL_CASE_INSENSITIVE : LITERAL_READINGS;
  const folded = upper ? segments.map((s) => s.toLowerCase()) : undefined;
  const alternates = semicolon || format ? alternatesOf(folded ?? segments, last) : undefined;
  const dropsSegments = segments.length > 1 && (innerEmpty || (alternates?.some((a) => a?.includes('')) ?? false));
  return { caseInsensitive, folded, alternates, trailingEnd, dropsSegments };
}

/** The segments to match a reading against: lower-cased when that differs. */
export function foldedSegments(segments: readonly string[], readings: PathReadings): readonly string[] {
  return readings.folded ?? segments;
}

function alternatesOf(segments: readonly string[], last: number): (readonly string[] | undefined)[] {
  return segments.map((s, i) => {
    const out: string[] = [];
    const semicolon = s.indexOf(';');
    const bare = semicolon === -1 ? undefined : s.slice(0, semicolon);
    if (bare !== undefined) out.push(bare);
    if (i === last) {
      for (const base of [withoutFormat(s), bare === undefined ? undefined : withoutFormat(bare)]) {
        if (base !== undefined && base !== s && !out.includes(base)) out.push(base);
      }
    }
    return out.length > 0 ? out : undefined;
  });
}

/**
 * `admin.json` → `admin`: one suffix, as Rails `(.:format)` (`[^/.?]+`) and Spring suffix
 * patterns read it. A leading dot (`.well-known`) is a name, not a format.
 */
export function withoutFormat(segment: string): string | undefined {
  return hasFormat(segment) ? segment.slice(0, segment.lastIndexOf('.')) : undefined;
}

function hasFormat(segment: string): boolean {
  const dot = segment.lastIndexOf('.');
  return dot > 0 && dot < segment.length - 1;
}
