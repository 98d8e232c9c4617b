/** Where clients put their key (SPEC §4): the one spelling of these names; the upstream never sees either. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

export type CredentialHeader = (typeof CREDENTIAL_HEADERS)[number];

export type Credential =
  { kind: 'none' } | { kind: 'malformed'; header: CredentialHeader } | { kind: 'present'; value: string; header: CredentialHeader };

type HeaderValue = string | string[] | undefined;

/** Node's `req.headers` or `req.headersDistinct` (names already lower-case). */
export type CredentialHeaders = {
  authorization?: string | string[];
  'x-api-key'?: string | string[];
} & Record<string, HeaderValue>;

/** Longer values are refused before any parsing or decoding. */
export const MAX_CREDENTIAL_LENGTH = 4096;

const NONE: Credential = Object.freeze({ kind: 'none' });

export function extractCredential(headers: CredentialHeaders): Credential {
  const fromAuthorization = readHeader('authorization', headers.authorization, authorizationValue);
  const fromApiKey = readHeader('x-api-key', headers['x-api-key'], (value) => value);
  return combine(fromAuthorization, fromApiKey);
}

function combine(auth: Credential, apiKey: Credential): Credential {
  if (auth.kind === 'none') return apiKey;
  if (apiKey.kind === 'none') return auth;
  if (auth.kind === 'malformed') return auth;
  if (apiKey.kind === 'malformed') return apiKey;
  // Two different keys: refusing is the only answer that cannot authorise the wrong one.
  return auth.value === apiKey.value ? auth : { kind: 'malformed', header: 'authorization' };
}

/** `parse` returns the key inside a trimmed, non-empty value, or undefined if malformed. */
function readHeader(header: CredentialHeader, raw: HeaderValue, parse: (value: string) => string | undefined): Credential {
  const single = singleValue(raw);
  if (single === undefined) return NONE;
  const trimmed = single.length > MAX_CREDENTIAL_LENGTH ? '' : single.trim();
  const value = trimmed === '' ? undefined : parse(trimmed);
  return value === undefined ? { kind: 'malformed', header } : { kind: 'present', value, header };
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
