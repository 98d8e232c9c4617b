import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { keyState, type KeyState } from '../policy/model.js';
import { ruleText } from '../policy/rules.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { isoSeconds } from './keyArgs.js';
import { loadOrFail } from './loadOrFail.js';

export const keyListHelp = 'keygate key list -c FILE [--user U] [--json]   id, user, name, scope, state, expires, comment (never hashes)';

/** One key as `key list --json` shows it: everything but the hash. */
export interface KeyListing {
  id: string;
  user: string;
  name: string;
  scope: string;
  state: KeyState;
  expires: string | null;
  notBefore: string | null;
  disabled: boolean;
  legacy: boolean;
  comment: string | null;
  created: string | null;
  allow: string[];
  deny: string[];
  sourceIPs: string[] | null;
  file: string;
}

const COLUMNS = ['ID', 'USER', 'NAME', 'SCOPE', 'STATE', 'EXPIRES', 'COMMENT'] as const;

export function runKeyList(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, { ...CONFIG_OPTION, user: { type: 'string' }, json: { type: 'boolean' } });
  const snapshot = loadOrFail(configPath(args, io), io);
  const user = optionalString(args, 'user');
  const now = io.now();
  const keys = snapshot.keys.list().filter((k) => user === undefined || k.user === user).map((k) => listing(snapshot, k, now));
  if (flag(args, 'json')) {
    io.out(JSON.stringify(keys, null, 2));
    return EXIT.ok;
  }
  io.out(keys.length ? table(keys) : `no keys${user !== undefined ? ` for user ${user}` : ''}`);
  return EXIT.ok;
}

function listing(snapshot: Snapshot, k: KeyRecord, now: number): KeyListing {
  return {
    id: k.id,
    user: k.user,
    name: k.name,
    scope: k.scope,
    state: keyState(snapshot, k, now),
    expires: k.expires !== undefined ? isoSeconds(k.expires) : null,
    notBefore: k.notBefore !== undefined ? isoSeconds(k.notBefore) : null,
    disabled: k.disabled,
    legacy: k.legacy,
    comment: k.comment ?? null,
    created: k.created ?? null,
    allow: k.allow.rules.map(ruleText),
    deny: k.deny.rules.map(ruleText),
    sourceIPs: k.sourceIPs ? [...k.sourceIPs.text] : null,
    file: k.file,
  };
}

function table(keys: readonly KeyListing[]): string {
  const rows = keys.map((k) => [k.id, k.user, k.name, k.scope, k.state, k.expires ?? '-', k.comment ?? '']);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n');
}
