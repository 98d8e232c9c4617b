import { didYouMean } from './suggest.js';

/** Method aliases of the rule language; `GET` alone never admits `HEAD` (RFC 9110 methods are exact). */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  read: ['GET', 'HEAD'],
  write: ['POST', 'PUT', 'PATCH', 'DELETE'],
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** RFC 9110 §9 plus PATCH (RFC 5789): the methods a rule may name without `extraMethods`. */
export const STANDARD_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const STANDARD = new Set(STANDARD_METHODS);

export type MethodSet = ReadonlySet<string> | null; // null: any method

/**
 * Which methods beyond the standard ones a rule may name: keygate.yaml's `extraMethods`,
 * or 'any' token when only the shape can be checked yet (a command-line rule before the
 * config is read).
 */
export type ExtraMethods = ReadonlySet<string> | 'any';

const NONE: ExtraMethods = new Set();

/**
 * Methods are case-sensitive (RFC 9110 §9.1): `post` or `DELTE` would silently grant
 * nothing, so a name that is neither standard, an alias nor listed in `extraMethods` is
 * an error, with the closest known name suggested.
 */
export function compileMethods(spec: string | readonly string[] | undefined, extra: ExtraMethods = NONE): MethodSet | { error: string } {
  if (spec === undefined) return null;
  const names = typeof spec === 'string' ? [spec] : spec;
  if (names.length === 0) return { error: 'method list is empty' };
  const out = new Set<string>();
  for (const name of names) {
    if (name === '*') return null;
    const alias = ALIASES[name];
    if (alias) alias.forEach((m) => out.add(m));
    else if (!TOKEN.test(name)) return { error: `method "${name}" is not an HTTP method token (RFC 9110), "read", "write" or "*"` };
    else if (STANDARD.has(name) || extra === 'any' || extra.has(name)) out.add(name);
    else return { error: unknownMethod(name, extra) };
  }
  return out;
}

function unknownMethod(name: string, extra: ReadonlySet<string>): string {
  const known = [...STANDARD_METHODS, ...Object.keys(ALIASES), ...extra];
  const hint = STANDARD.has(name.toUpperCase()) ? ` (methods are case-sensitive)` : '';
  return `unknown method "${name}"${hint}${didYouMean(name, known)}; a custom method must be listed in extraMethods of keygate.yaml`;
}

export function methodsText(methods: MethodSet): string {
  return methods === null ? '*' : [...methods].join(',');
}

export function intersectMethods(a: MethodSet, b: MethodSet): MethodSet {
  if (a === null) return b;
  if (b === null) return a;
  return new Set([...a].filter((m) => b.has(m)));
}
