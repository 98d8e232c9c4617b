import type { IncomingMessage } from 'node:http';
import type { RequestRules } from '../config/snapshot.js';
import { formDecode, isMethodKey } from './requestMeaning.js';

/**
 * `_method` in a form body (Rails, Laravel and Symfony honour it on POST). keygate
 * looks at the start of such bodies only — at most FORM_PREFIX_BYTES, waiting at most
 * FORM_PREFIX_MS — then forwards the whole body unchanged. Frameworks' own forms put
 * the field first; the limits keep a slow or huge body from holding the decision.
 */
export const FORM_PREFIX_BYTES = 4096;
export const FORM_PREFIX_MS = 1000;

const URLENCODED = 'application/x-www-form-urlencoded';
const MULTIPART = 'multipart/form-data';

/** Whether this request's body is one a framework reads `_method` from. */
export function inspectsForm(rules: RequestRules, method: string, contentType: string | undefined): boolean {
  if (!rules.methodOverrideInBody || method !== 'POST' || contentType === undefined) return false;
  const type = contentType.trimStart().slice(0, URLENCODED.length).toLowerCase();
  return type.startsWith(URLENCODED) || type.startsWith(MULTIPART);
}

export type FormPrefix =
  /** `ended`: the whole body was read (it is `prefix`); otherwise `prefix` was put back on `req`. */
  { readonly ok: true; readonly prefix: Buffer; readonly ended: boolean } | { readonly ok: false };

/**
 * Reads up to `maxBytes` of the body (or what arrives within `maxMs`), then pauses the
 * request and puts the bytes back so forwarding streams the body from its first byte.
 */
export function readFormPrefix(req: IncomingMessage, maxBytes = FORM_PREFIX_BYTES, maxMs = FORM_PREFIX_MS): Promise<FormPrefix> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: 'full' | 'ended' | 'failed'): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onFail).off('close', onClose);
      if (result === 'failed') return resolve({ ok: false });
      req.pause();
      const prefix = Buffer.concat(chunks);
      if (result === 'full' && prefix.length > 0) req.unshift(prefix);
      resolve({ ok: true, prefix, ended: result === 'ended' });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) finish('full');
    };
    const onEnd = (): void => finish('ended');
    const onFail = (): void => finish('failed');
    const onClose = (): void => {
      if (!req.readableEnded) finish('failed');
    };
    const timer = setTimeout(() => finish('full'), maxMs);
    req.on('data', onData).on('end', onEnd).on('error', onFail).on('close', onClose);
  });
}

/** The `_method` values in the start of a urlencoded or multipart body. */
export function formMethodOverrides(prefix: Buffer, contentType: string): string[] {
  const text = prefix.toString('latin1');
  return contentType.trimStart().toLowerCase().startsWith(MULTIPART) ? multipartValues(text) : urlencodedValues(text);
}

function urlencodedValues(text: string): string[] {
  const values: string[] = [];
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    if (isMethodKey(eq === -1 ? pair : pair.slice(0, eq))) values.push(eq === -1 ? '' : formDecode(pair.slice(eq + 1)));
  }
  return values;
}

/** Each part's `name` and its first line of content (a `_method` value is one token). */
const PART = /content-disposition:[^\r\n]*?;\s*name\s*=\s*(?:"([^"\r\n]*)"|([^;\s\r\n]+))[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)/gi;

function multipartValues(text: string): string[] {
  const values: string[] = [];
  for (const m of text.matchAll(PART)) {
    if (isMethodKey(m[1] ?? m[2] ?? '')) values.push(m[3]);
  }
  return values;
}
