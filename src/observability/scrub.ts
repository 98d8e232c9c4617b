/** Free-text scrubbing: for strings that no redaction path or field name can reach. */

export const CENSOR = '[REDACTED]';

const KEY_STRING = /kg_[0-9A-Za-z_]+/g;
/** Values stop at quotes and backslashes so scrubbing a JSON line keeps it valid JSON. */
const CREDENTIAL_SCHEME_VALUE = /\b(Bearer|Basic)\s+[^\s,;"'`\\]+/gi;
/**
 * "token" and "apikey" are also words of prose ("cannot read service token file …", "the
 * service token is not set"): after them only something that looks like a credential is
 * scrubbed, never a lower-case word or a path.
 */
const WORD_SCHEME_VALUE = /\b([Tt][Oo][Kk][Ee][Nn]|[Aa][Pp][Ii][Kk][Ee][Yy])\s+(?![a-z]+(?![^\s,;:"'`\\]))(?![./])[^\s,;"'`\\]+/g;

/** Removes keygate key strings and credential values after an auth scheme from free text. */
export function scrubSecrets(text: string): string {
  return scrubKeyStrings(text).replace(CREDENTIAL_SCHEME_VALUE, `$1 ${CENSOR}`).replace(WORD_SCHEME_VALUE, `$1 ${CENSOR}`);
}

/**
 * Removes keygate key strings (recognisable by their prefix) wherever they are. Cheap
 * enough to run on every serialized log line, and exact: it never touches other text.
 */
export function scrubKeyStrings(text: string): string {
  return text.includes('kg_') ? text.replace(KEY_STRING, `kg_${CENSOR}`) : text;
}
