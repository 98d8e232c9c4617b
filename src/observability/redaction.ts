import { CENSOR } from './scrub.js';
import { serializeError, serializeRequest } from './serializers.js';

/**
 * What must never reach a log line. Three layers, all fixed at start-up:
 *
 * 1. pino `redact` paths (compiled once; paths never come from request input) for the
 *    places secrets are known to sit, even inside non-plain objects;
 * 2. `secretCensor`, a walk over plain objects and arrays that censors secret-named
 *    fields at any depth and serializes nested errors and HTTP messages. It replaces
 *    pino's `*.x` wildcard paths, which cost ~100 µs per log line here (the wildcard
 *    redactor runs on every field of every line);
 * 3. scrub.ts on free text: every serialized line, messages, error text.
 */

/** Lower case: HTTP header names are case-insensitive. */
const SENSITIVE_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key', 'cookie', 'set-cookie'];

/** Header spellings used in code; pino paths are case-sensitive. */
const HEADER_SPELLINGS = [...SENSITIVE_HEADERS, 'Authorization', 'Proxy-Authorization', 'X-API-Key', 'X-Api-Key', 'Cookie', 'Set-Cookie'];

const HEADER_CONTAINERS = [
  'headers',
  'req.headers',
  'res.headers',
  'request.headers',
  'response.headers',
  'upstream.headers',
  'err.headers',
  'err.config.headers',
];

/** Field names that hold a secret wherever they appear (matched case-insensitively by the walk). */
const SECRET_FIELDS = ['serviceToken', 'token', 'key', 'secret', 'password', 'apiKey', 'api_key', 'authorization', 'credential'];

/** An HTTP field-name token: safe to embed in a quoted redaction path. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkedHeaders(extraHeaders: readonly string[]): string[] {
  for (const name of extraHeaders) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`not an HTTP header name: ${JSON.stringify(name)}`);
  }
  return [...extraHeaders];
}

/**
 * pino redaction paths, without wildcards. `extraHeaders` names further secret-bearing
 * headers, e.g. each service's configured service-token header.
 */
export function redactPaths(extraHeaders: readonly string[] = []): string[] {
  const extra = checkedHeaders(extraHeaders);
  const headers = new Set([...HEADER_SPELLINGS, ...extra, ...extra.map((h) => h.toLowerCase())]);
  const headerPaths = HEADER_CONTAINERS.flatMap((c) => [...headers].map((h) => `${c}["${h}"]`));
  return [...headerPaths, ...SECRET_FIELDS, 'err.config', 'service.serviceToken'];
}

const MAX_DEPTH = 6;

/**
 * Returns `obj` itself when nothing needs censoring (the common case: an access line),
 * otherwise a copy in which, at any depth of plain objects and arrays:
 * - every secret-named field is replaced (in an array of strings, i.e. raw headers
 *   `[name, value, …]`, so is the value after a sensitive header name);
 * - an Error becomes `serializeError(err)`, and an object with `headers` (a request or
 *   response) becomes `serializeRequest(msg)`, instead of being dumped whole.
 * Top-level fields named in `serialized` are left to pino's serializers.
 */
export function secretCensor(
  extraHeaders: readonly string[] = [],
  serialized: readonly string[] = [],
): (obj: Record<string, unknown>) => Record<string, unknown> {
  const extra = checkedHeaders(extraHeaders).map((h) => h.toLowerCase());
  const headers = new Set([...SENSITIVE_HEADERS, ...extra]);
  const fields = new Set([...SECRET_FIELDS.map((f) => f.toLowerCase()), ...headers]);
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
    if (Array.isArray(value)) return censorArray(value, headers, (v) => walk(v, depth + 1));
    if (!isPlainObject(value)) return replaceOpaque(value);
    return censorFields(value, fields, (v) => walk(v, depth + 1));
  };
  const topLevel = new Set(serialized);
  return (obj) => censorFields(obj, fields, (v) => walk(v, 1), topLevel) as Record<string, unknown>;
}

/** Errors and HTTP messages carry headers in enumerable fields that JSON would dump. */
function replaceOpaque(value: object): unknown {
  if (value instanceof Error) return serializeError(value);
  if ('headers' in value) return serializeRequest(value);
  return value;
}

function censorFields(obj: object, fields: ReadonlySet<string>, walk: (v: unknown) => unknown, skip?: ReadonlySet<string>): object {
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (skip?.has(k)) continue;
    const next = fields.has(k.toLowerCase()) ? CENSOR : walk(v);
    if (next !== v) (copy ??= { ...obj })[k] = next;
  }
  return copy ?? obj;
}

function censorArray(arr: readonly unknown[], headers: ReadonlySet<string>, walk: (v: unknown) => unknown): readonly unknown[] {
  let copy: unknown[] | undefined;
  arr.forEach((v, i) => {
    const prev = i > 0 ? arr[i - 1] : undefined;
    const next = typeof prev === 'string' && headers.has(prev.toLowerCase()) ? CENSOR : walk(v);
    if (next !== v) (copy ??= [...arr])[i] = next;
  });
  return copy ?? arr;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
