import { randomUUID } from 'node:crypto';

/** 1-128 characters that are safe in a header, a log line and a shell (SPEC section 5). */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Keeps a well-formed inbound `X-Request-Id` so a trace spans the front proxy,
 * keygate and the upstream; anything else (missing, too long, odd characters, a
 * header repeated with different values) gets a fresh UUID.
 */
export function requestIdFrom(header: string | readonly string[] | undefined): string {
  const value = typeof header === 'string' ? header : header?.length === 1 ? header[0] : undefined;
  return value !== undefined && isValidRequestId(value) ? value : randomUUID();
}

export function isValidRequestId(value: string): boolean {
  return VALID_REQUEST_ID.test(value);
}
