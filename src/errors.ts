/**
 * The one table of decision reasons: every denial (and `allow`) has a stable code,
 * an HTTP status, and a title. Logs, metrics, `explain` and problem bodies all use it;
 * test/unit/errors.test.ts checks it row by row, and against README.md and docs/.
 */
export const REASONS = {
  allow: { status: 200, title: 'Allowed' },
  bad_target: { status: 400, title: 'Bad request target' },
  upgrade_not_allowed: { status: 400, title: 'Upgrade not allowed' },
  method_override: { status: 400, title: 'Method override not allowed' },
  no_route: { status: 404, title: 'No route' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  missing_credentials: { status: 401, title: 'Missing credentials' },
  malformed_credentials: { status: 401, title: 'Malformed credentials' },
  unknown_key: { status: 401, title: 'Invalid API key' },
  bad_secret: { status: 401, title: 'Invalid API key' },
  key_disabled: { status: 401, title: 'Invalid API key' },
  key_expired: { status: 401, title: 'Invalid API key' },
  key_not_yet_valid: { status: 401, title: 'Invalid API key' },
  user_unknown: { status: 401, title: 'Invalid API key' },
  user_disabled: { status: 401, title: 'Invalid API key' },
  user_expired: { status: 401, title: 'Invalid API key' },
  client_cert_missing: { status: 401, title: 'Invalid API key' },
  client_cert_mismatch: { status: 401, title: 'Invalid API key' },
  source_ip_not_allowed: { status: 403, title: 'Source address not allowed' },
  user_denied: { status: 403, title: 'Not permitted for this user' },
  key_scope_denied: { status: 403, title: "Outside this key's scope" },
  key_deny_rule: { status: 403, title: 'Denied by a rule of this key' },
  guardrail: { status: 403, title: 'Denied by a guardrail' },
  body_timeout: { status: 408, title: 'Request body timed out' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  headers_too_large: { status: 431, title: 'Request headers too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  upstream_failed: { status: 502, title: 'Upstream failed' },
  upstream_timeout: { status: 504, title: 'Upstream timed out' },
} as const;

export type Reason = keyof typeof REASONS;
export type DenyReason = Exclude<Reason, 'allow'>;

/** What a client may see: every 401 other than the first two collapses to `invalid_key`. */
export type ClientReason = Exclude<Reason, Unauthenticated> | 'invalid_key';

type Unauthenticated =
  | 'unknown_key'
  | 'bad_secret'
  | 'key_disabled'
  | 'key_expired'
  | 'key_not_yet_valid'
  | 'user_unknown'
  | 'user_disabled'
  | 'user_expired'
  | 'client_cert_missing'
  | 'client_cert_mismatch';

export function clientReason(reason: Reason): ClientReason {
  if (REASONS[reason].status === 401 && reason !== 'missing_credentials' && reason !== 'malformed_credentials') {
    return 'invalid_key';
  }
  return reason as ClientReason;
}

export function statusOf(reason: Reason): number {
  return REASONS[reason].status;
}

export function isReason(s: string): s is Reason {
  return Object.hasOwn(REASONS, s);
}
