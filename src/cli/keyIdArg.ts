import { isKeyId } from '../auth/keyFormat.js';
import { UsageError, type CliIO } from './io.js';

const KEY_STRING_ID = /^kg_([0-9A-Za-z]{12})_/;

/**
 * A key id from the command line. A whole key string is accepted too (people paste what
 * they have): its id is used and the operator is told the id suffices. What was given
 * is never echoed unless it is id-shaped, since it may be a secret.
 */
export function keyIdArg(text: string, io: CliIO, what: string): string {
  if (isKeyId(text)) return text;
  const id = KEY_STRING_ID.exec(text)?.[1];
  if (id === undefined)
    throw new UsageError(
      `${what} must be a key id (12 letters and digits, e.g. DT7nOCBZHjkw); the value given is not shown in case it is a secret`,
    );
  io.err(
    `warning: ${what}: the key id ${id} suffices; the whole key (secret included) was given, and it may now be in your shell history. If others can read it, rotate the key: keygate key rotate ${id}`,
  );
  return id;
}
