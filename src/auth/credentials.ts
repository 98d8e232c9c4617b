/** Where clients put their key by default (Authorization: Bearer or Basic, X-API-Key); the upstream never sees either. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

/**
 * Where a service reads the key from (keygate.yaml `credentials`): header names, lower
 * case, in order (`authorization` is read as Bearer or Basic, any other as the bare key),
 * and one query parameter only when the service names it.
 */
export interface CredentialSources {
  readonly headers: readonly string[];
  readonly query?: string;
}

export const DEFAULT_CREDENTIAL_SOURCES: CredentialSources = Object.freeze({ headers: CREDENTIAL_HEADERS });

/** `source`: the header name, or `?name` for the query parameter. */
export type Credential = { kind: 'none' } | { kind: 'malformed'; source: string } | { kind: 'present'; value: string; source: string };

type HeaderValue = string | string[] | undefined;

/** Node's `req.headers` or `req.headersDistinct` (names already lower-case). */
export type CredentialHeaders = Record<string, HeaderValue>;

/** Longer values are refused before any parsing or decoding. */
export const MAX_CREDENTIAL_LENGTH = 4096;

export const NO_CREDENTIAL: Credential = Object.freeze({ kind: 'none' });

export function extractCredential(headers: CredentialHeaders, names: readonly string[] = CREDENTIAL_HEADERS): Credential {
  let found = NO_CREDENTIAL;
  for (const name of names) {
    const raw = headers[name];
    if (raw !== undefined)
      found = eitherCredential(found, readHeader(name, raw, name === 'authorization' ? authorizationValue : bareValue));
  }
  return found;
}

/** Two places may carry the key; two different keys are refused, as is any malformed one. */
export function eitherCredential(first: Credential, second: Credential): Credential {
  if (first.kind === 'none') return second;
  if (second.kind === 'none') return first;
  if (first.kind === 'malformed') return first;
  if (second.kind === 'malformed') return second;
  // Two different keys: refusing is the only answer that cannot authorise the wrong one.
  return first.value === second.value ? first : { kind: 'malformed', source: first.source };
}

/** A value as a credential: trimmed, bounded, non-empty; `source` names where it came from. */
export function credentialFrom(source: string, value: string, parse: (value: string) => string | undefined = bareValue): Credential {
  const trimmed = value.length > MAX_CREDENTIAL_LENGTH ? '' : value.trim();
  const key = trimmed === '' ? undefined : parse(trimmed);
  return key === undefined ? { kind: 'malformed', source } : { kind: 'present', value: key, source };
}

function bareValue(value: string): string {
  return value;
}

/** `parse` returns the key inside a trimmed, non-empty value, or undefined if malformed. */
function readHeader(header: string, raw: HeaderValue, parse: (value: string) => string | undefined): Credential {
  const single = singleValue(raw);
  return single === undefined ? NO_CREDENTIAL : credentialFrom(header, single, parse);
}

/** `headersDistinct` gives one-element arrays; more than one element is a repeated header. */
function singleValue(raw: HeaderValue): string | undefined {
  if (!Array.isArray(raw)) return raw;
  if (raw.length === 0) return undefined;
  return raw.length === 1 ? raw[0] : '';
}

const SCHEME = /^([A-Za-z]+)[ \t]+(\S.*)$/s;

function authorizationValue(value: string): string | undefined {
  const match = SCHEME.exec(value);
  if (!match) return undefined;
  const [, scheme, rest] = match;
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return rest.trim();
    case 'basic':
      return basicPassword(rest.trim());
    default:
      return undefined;
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 7617: the user name cannot contain ':', so the key is everything after the first one. */
function basicPassword(token: string): string | undefined {
  const decoded = decodeBase64Utf8(token);
  const colon = decoded?.indexOf(':') ?? -1;
  if (decoded === undefined || colon < 0 || colon === decoded.length - 1) return undefined;
  return decoded.slice(colon + 1);
}

/** Strict: canonical padded base64 of valid UTF-8, else undefined. */
function decodeBase64Utf8(token: string): string | undefined {
  if (!BASE64.test(token) || token.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.toString('base64') !== token) return undefined;
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
