import type { CliIO } from './io.js';

/** Anything that starts like a keygate key string: the prefix and at least an id's worth of characters. */
const KEY_LIKE = /\bkg_[0-9A-Za-z_]{8,}/g;
const WITH_ID = /^kg_([0-9A-Za-z]{12})_/;

/**
 * Every CLI message passes through here: a key string an operator typed (or pasted into
 * a file that an error quotes) never comes back out. Only a key this process minted and
 * shows on purpose (`key create`, `key rotate`, the demo's public keys) is let through,
 * after the command calls `reveal`.
 */
export function scrubbingIO(io: CliIO): CliIO {
  const revealed = new Set<string>();
  const clean = (text: string): string =>
    text.includes('kg_') ? text.replace(KEY_LIKE, (s) => (revealed.has(s) ? s : redacted(s))) : text;
  return {
    ...io,
    out: (text) => io.out(clean(text)),
    err: (text) => io.err(clean(text)),
    reveal: (key) => void revealed.add(key),
  };
}

/** The id stays: it is public and tells the operator which key was meant. */
function redacted(key: string): string {
  const id = WITH_ID.exec(key)?.[1];
  return id ? `kg_${id}_[REDACTED]` : 'kg_[REDACTED]';
}
