import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientReason, isReason, REASONS, statusOf, type ClientReason, type Reason } from '../../src/errors.js';

const ROOT = join(import.meta.dirname, '../..');

interface Row {
  readonly status: number;
  readonly title: string;
  /** What the client's problem body says. */
  readonly client: ClientReason;
}

/**
 * Every reason, written out once more by hand: a changed status, title or client reason
 * has to be changed here too, on purpose. Typed as a full record, so a new reason that
 * is not a row fails the type-check.
 */
const ROWS: Record<Reason, Row> = {
  allow: { status: 200, title: 'Allowed', client: 'allow' },
  bad_target: { status: 400, title: 'Bad request target', client: 'bad_target' },
  upgrade_not_allowed: { status: 400, title: 'Upgrade not allowed', client: 'upgrade_not_allowed' },
  method_override: { status: 400, title: 'Method override not allowed', client: 'method_override' },
  no_route: { status: 404, title: 'No route', client: 'no_route' },
  method_not_allowed: { status: 405, title: 'Method not allowed', client: 'method_not_allowed' },
  missing_credentials: { status: 401, title: 'Missing credentials', client: 'missing_credentials' },
  malformed_credentials: { status: 401, title: 'Malformed credentials', client: 'malformed_credentials' },
  unknown_key: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  bad_secret: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  key_disabled: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  key_expired: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  key_not_yet_valid: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  user_unknown: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  user_disabled: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  user_expired: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  client_cert_missing: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  client_cert_mismatch: { status: 401, title: 'Invalid API key', client: 'invalid_key' },
  source_ip_not_allowed: { status: 403, title: 'Source address not allowed', client: 'source_ip_not_allowed' },
  user_denied: { status: 403, title: 'Not permitted for this user', client: 'user_denied' },
  key_scope_denied: { status: 403, title: "Outside this key's scope", client: 'key_scope_denied' },
  key_deny_rule: { status: 403, title: 'Denied by a rule of this key', client: 'key_deny_rule' },
  guardrail: { status: 403, title: 'Denied by a guardrail', client: 'guardrail' },
  body_timeout: { status: 408, title: 'Request body timed out', client: 'body_timeout' },
  payload_too_large: { status: 413, title: 'Request body too large', client: 'payload_too_large' },
  headers_too_large: { status: 431, title: 'Request headers too large', client: 'headers_too_large' },
  rate_limited: { status: 429, title: 'Too many requests', client: 'rate_limited' },
  upstream_failed: { status: 502, title: 'Upstream failed', client: 'upstream_failed' },
  upstream_timeout: { status: 504, title: 'Upstream timed out', client: 'upstream_timeout' },
};

/** The collapsed 401 a client sees for an unknown key, a wrong secret, a disabled user, … */
const INVALID_KEY_ROW = { status: 401, title: 'Invalid API key' };

/**
 * Reasons in the table that no code produces yet. Each entry is a promise with an issue
 * number; the table must not keep a reason nobody can be answered with.
 */
const NOT_YET_PRODUCED: ReadonlySet<Reason> = new Set<Reason>([]);

const reasons = Object.keys(REASONS) as Reason[];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every source file but the table itself, joined: a reason is produced when its code is quoted here. */
const PRODUCERS = sourceFiles(join(ROOT, 'src'))
  .filter((f) => f !== join(ROOT, 'src', 'errors.ts'))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

const DOCS = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

describe('the reason table', () => {
  it('has exactly the rows written out here', () => {
    expect(reasons.sort()).toEqual(Object.keys(ROWS).sort());
  });

  it.each(reasons.map((reason) => ({ reason, ...ROWS[reason] })))(
    '$reason answers $status "$title" and shows the client $client',
    ({ reason, status, title, client }) => {
      expect(REASONS[reason]).toEqual({ status, title });
      expect(statusOf(reason)).toBe(status);
      expect(clientReason(reason)).toBe(client);
    },
  );

  it('invalid_key is what every other 401 shows, with one status and one title', () => {
    const collapsed = reasons.filter((r) => clientReason(r) === 'invalid_key');
    expect(collapsed.length).toBeGreaterThan(0);
    for (const r of collapsed) expect(REASONS[r]).toEqual(INVALID_KEY_ROW);
    expect(isReason('invalid_key')).toBe(false);
  });

  it('a client reason is never a different status from the precise one', () => {
    for (const r of reasons) {
      const shown = clientReason(r);
      expect(shown === 'invalid_key' ? INVALID_KEY_ROW.status : REASONS[shown].status).toBe(REASONS[r].status);
    }
  });

  it('every status is an HTTP status and every title says something', () => {
    for (const r of reasons) {
      expect(REASONS[r].status).toBeGreaterThanOrEqual(200);
      expect(REASONS[r].status).toBeLessThan(600);
      expect(REASONS[r].title.trim()).not.toBe('');
    }
  });

  it.each(reasons.filter((r) => !NOT_YET_PRODUCED.has(r)))('%s is produced somewhere in src/', (reason) => {
    expect(PRODUCERS).toContain(`'${reason}'`);
  });

  it.each(reasons.filter((r) => r !== 'allow' && !NOT_YET_PRODUCED.has(r)))('%s is documented in README.md or docs/', (reason) => {
    expect(DOCS).toContain(`\`${reason}\``);
  });

  it("every reason code the README's decision table names is a reason", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## How a request is decided'));
    const table = section
      .slice(0, section.indexOf('\n## '))
      .split('\n')
      .filter((line) => line.startsWith('| '));
    const named = table.flatMap((line) => [...(line.split('|').at(-2) ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
    expect(named.length).toBeGreaterThan(10);
    for (const code of named) expect(isReason(code), code).toBe(true);
  });
});
