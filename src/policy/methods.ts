/** Method aliases of the rule language; `GET` alone never admits `HEAD` (RFC 9110 methods are exact). */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  read: ['GET', 'HEAD'],
  write: ['POST', 'PUT', 'PATCH', 'DELETE'],
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type MethodSet = ReadonlySet<string> | null; // null: any method

export function compileMethods(spec: string | readonly string[] | undefined): MethodSet | { error: string } {
  if (spec === undefined) return null;
  const names = typeof spec === 'string' ? [spec] : spec;
  if (names.length === 0) return { error: 'method list is empty' };
  const out = new Set<string>();
  for (const name of names) {
    if (name === '*') return null;
    const alias = ALIASES[name];
    if (alias) alias.forEach((m) => out.add(m));
    else if (TOKEN.test(name)) out.add(name);
    else return { error: `"${name}" is not an HTTP method, "read", "write" or "*"` };
  }
  return out;
}

export function methodsText(methods: MethodSet): string {
  return methods === null ? '*' : [...methods].join(',');
}

export function intersectMethods(a: MethodSet, b: MethodSet): MethodSet {
  if (a === null) return b;
  if (b === null) return a;
  return new Set([...a].filter((m) => b.has(m)));
}
