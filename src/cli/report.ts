import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import type { KeyState } from '../policy/model.js';
import { CONFIG_OPTION, configPath, flag, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { isoSeconds } from './keyArgs.js';
import { keyUsageFields, readUsageFor, type KeyUsageFields } from './keyUsage.js';
import { loadOrFail } from './loadOrFail.js';
import { listing, stateText } from './keyList.js';
import { textTable } from './textTable.js';

export const reportHelp =
  'keygate report -c FILE [--json]   credential report: per key its user, scope, state, created, expires, last used, rotation due';

/** One row of the credential report (in the spirit of AWS IAM's). */
export interface ReportRow extends KeyUsageFields {
  id: string;
  user: string;
  name: string;
  scope: string;
  state: KeyState;
  created: string | null;
  /** When the secret was last replaced (`key rotate`), if ever. */
  rotated: string | null;
  expires: string | null;
  /** When the key reaches its maxAge (policy `keys`); null: no maxAge, or its age is unknown. */
  rotationDue: string | null;
  /** `key rotate --grace`: until when the previous secret is still accepted (null: none). */
  graceUntil: string | null;
}

const COLUMNS = ['ID', 'USER', 'NAME', 'SCOPE', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED', 'ROTATION DUE'] as const;

export async function runReport(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const snapshot = loadOrFail(configPath(args, io), io);
  const usage = await readUsageFor(snapshot, io);
  const now = io.now();
  const rows = snapshot.keys.list().map((k) => ({ ...reportRow(snapshot, k, now), ...keyUsageFields(usage.get(k.id)) }));
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ generated: isoSeconds(now), keys: rows }, null, 2));
    return EXIT.ok;
  }
  const cells = rows.map((r) => [
    r.id,
    r.user,
    r.name,
    r.scope,
    stateText(r),
    r.created ?? '-',
    r.expires ?? '-',
    r.lastUsed ?? 'never',
    r.rotationDue ?? '-',
  ]);
  io.out(rows.length ? textTable(COLUMNS, cells) : 'no keys');
  return EXIT.ok;
}

/** The report's columns of a key, in the documented order. */
function reportRow(s: Snapshot, k: KeyRecord, now: number): Omit<ReportRow, keyof KeyUsageFields> {
  const l = listing(s, k, now);
  return {
    id: l.id,
    user: l.user,
    name: l.name,
    scope: l.scope,
    state: l.state,
    created: l.created,
    rotated: l.rotated,
    expires: l.expires,
    rotationDue: l.rotationDue,
    graceUntil: l.graceUntil,
  };
}
