import { credentialFrom, type Credential } from '../auth/credentials.js';
import { formDecode, parameterKey } from './requestMeaning.js';

/** A key found in the query, and the query ('' or '?…') without it: what is forwarded. */
export interface QueryCredential {
  readonly credential: Credential;
  readonly rest: string;
}

/**
 * A service's key in the query string (`credentials.query: NAME`); undefined when the
 * query has no such parameter. Names are compared as PHP, Rack and qs read them once
 * decoded (`api%5Fkey`, `api.key` and `api_key[]` are all `api_key` to PHP), so an
 * upstream cannot find a copy keygate did not see and remove: two or more are malformed.
 */
export function queryCredential(name: string, query: string): QueryCredential | undefined {
  if (query.length < 2) return undefined;
  const values: string[] = [];
  let rest = '';
  for (let from = 1; from <= query.length;) {
    let to = from;
    while (to < query.length && query.charCodeAt(to) !== AMPERSAND && query.charCodeAt(to) !== SEMICOLON) to++;
    const pair = query.slice(from, to);
    const eq = pair.indexOf('=');
    if (isParameter(eq === -1 ? pair : pair.slice(0, eq), name)) values.push(eq === -1 ? '' : formDecode(pair.slice(eq + 1)));
    else rest += rest === '' ? pair : query[from - 1] + pair;
    from = to + 1;
  }
  if (values.length === 0) return undefined;
  const source = `?${name}`;
  const credential = values.length === 1 ? credentialFrom(source, values[0]) : ({ kind: 'malformed', source } as const);
  return { credential, rest: rest === '' ? '' : `?${rest}` };
}

const AMPERSAND = 0x26;
const SEMICOLON = 0x3b;
/** A raw name without these reads as itself, so it is compared as it is. */
const DECODED_DIFFERENTLY = /[%+. []/;

/** `name` is plain (the config allows letters, digits, `_` and `-`), so it is its own decoded form. */
function isParameter(raw: string, name: string): boolean {
  return raw === name || (DECODED_DIFFERENTLY.test(raw) && parameterKey(raw) === name);
}
