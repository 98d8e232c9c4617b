import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { KEY_STATES, keyState, rotationDueAt, type KeyState } from '../policy/model.js';
import { ruleText } from '../policy/rules.js';
import { didYouMean } from '../policy/suggest.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requirePositional } from './args.js';
import { EXIT, UsageError, type CliIO } from './io.js';
import { keyIdArg } from './keyIdArg.js';
import { findKey } from './keyStore.js';
import { displayPath, permissionLines } from './keyView.js';
import { isoSeconds } from './keyArgs.js';
import { loadOrFail } from './loadOrFail.js';
import { textTable } from './textTable.js';
import { keyUsageFields, type KeyUsageFields, readUsageFor, unusedFilter, usageSorter } from './keyUsage.js';

export const keyListHelp =
  'keygate key list -c FILE [--user U] [--state active|rotation_due|disabled|expired|not_yet_valid|orphaned] [--unused 30d] [--sort last-used] [--json]   id, user, name, scope, state, last used, expires, comment (never hashes)';

/** One key as `key list --json` shows it: everything but the hash. */
export interface KeyListing extends KeyUsageFields {
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
  rotated: string | null;
  /** When the key reaches its maxAge (policy `keys`); null: no maxAge, or its age is unknown. */
  rotationDue: string | null;
  /** `key rotate --grace`: until when the previous secret is still accepted (null: none). */
  graceUntil: string | null;
  allow: string[];
  deny: string[];
  sourceIPs: string[] | null;
  file: string;
}

const COLUMNS = ['ID', 'USER', 'NAME', 'SCOPE', 'STATE', 'LAST USED', 'EXPIRES', 'COMMENT'] as const;

export async function runKeyList(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    user: { type: 'string' },
    state: { type: 'string' },
    unused: { type: 'string' },
    sort: { type: 'string' },
    json: { type: 'boolean' },
  });
  const state = stateArg(optionalString(args, 'state'));
  const now = io.now();
  const unused = unusedFilter(optionalString(args, 'unused'), now);
  const sort = usageSorter(optionalString(args, 'sort'));
  const snapshot = loadOrFail(configPath(args, io), io);
  const usage = await readUsageFor(snapshot, io);
  const user = optionalString(args, 'user');
  const keys = snapshot.keys
    .list()
    .filter((k) => user === undefined || k.user === user)
    .map((k) => ({ ...listing(snapshot, k, now), ...keyUsageFields(usage.get(k.id)) }))
    .filter((k) => (state === undefined || k.state === state) && unused(k));
  sort(keys);
  if (flag(args, 'json')) {
    io.out(JSON.stringify(keys, null, 2));
    return EXIT.ok;
  }
  io.out(keys.length ? table(keys) : `no ${state ?? ''}${state ? ' ' : ''}keys${user !== undefined ? ` for user ${user}` : ''}`);
  return EXIT.ok;
}

export const keyShowHelp = 'keygate key show -c FILE ID [--json]   one key: every field but its hash, and what it can do';

export async function runKeyShow(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } }, 1);
  const configFile = configPath(args, io);
  const id = keyIdArg(requirePositional(args, 'key ID'), io, 'key ID');
  const snapshot = loadOrFail(configFile, io);
  const key = findKey(snapshot, id);
  const k: KeyListing = { ...listing(snapshot, key, io.now()), ...keyUsageFields((await readUsageFor(snapshot, io)).get(key.id)) };
  if (flag(args, 'json')) {
    io.out(JSON.stringify(k, null, 2));
    return EXIT.ok;
  }
  const optional = (label: string, value: string | null): string[] => (value === null ? [] : [`${label.padEnd(11)}${value}`]);
  io.out(
    [
      `key ${k.id} "${k.name}" of user ${k.user}`,
      `${'scope:'.padEnd(11)}${k.scope}`,
      `${'state:'.padEnd(11)}${k.state}${k.legacy ? ' (legacy secret)' : ''}`,
      ...optional('expires:', k.expires),
      ...optional('notBefore:', k.notBefore),
      ...optional('sourceIPs:', k.sourceIPs?.join(', ') ?? null),
      ...optional('comment:', k.comment),
      ...optional('created:', k.created),
      ...optional('rotated:', k.rotated),
      ...optional('rotate by:', k.rotationDue),
      ...optional('old key:', k.graceUntil === null ? null : `still accepted until ${k.graceUntil} (rotation grace)`),
      `${'last used:'.padEnd(11)}${k.lastUsed ?? 'never'}${k.lastClient !== null ? ` (last client ${k.lastClient})` : ''}`,
      ...optional('denied:', k.lastDenied),
      `${'file:'.padEnd(11)}${displayPath(k.file)}`,
      ...k.allow.map((r) => `${'allow:'.padEnd(11)}${r}`),
      ...k.deny.map((r) => `${'deny:'.padEnd(11)}${r}`),
      '',
      ...permissionLines(snapshot, key),
    ].join('\n'),
  );
  return EXIT.ok;
}

function stateArg(text: string | undefined): KeyState | undefined {
  if (text === undefined) return undefined;
  const state = KEY_STATES.find((s) => s === text);
  if (!state) throw new UsageError(`--state "${text}" is not a key state (${KEY_STATES.join(', ')})${didYouMean(text, KEY_STATES)}`);
  return state;
}

/** One key as `key list`/`key show` print it (and `report` picks from it), without its usage. */
export function listing(snapshot: Snapshot, k: KeyRecord, now: number): Omit<KeyListing, keyof KeyUsageFields> {
  const due = rotationDueAt(snapshot.users.get(k.user), k);
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
    rotated: k.rotated ?? null,
    rotationDue: due !== undefined ? isoSeconds(due) : null,
    graceUntil: graceUntil(k, now),
    allow: k.allow.rules.map(ruleText),
    deny: k.deny.rules.map(ruleText),
    sourceIPs: k.sourceIPs ? [...k.sourceIPs.text] : null,
    file: k.file,
  };
}

function table(keys: readonly KeyListing[]): string {
  return textTable(
    COLUMNS,
    keys.map((k) => [k.id, k.user, k.name, k.scope, stateText(k), k.lastUsed ?? 'never', k.expires ?? '-', k.comment ?? '']),
  );
}

/** The previous secret's grace end while it lasts; null once it ended (the hash waits for `key prune`). */
export function graceUntil(k: KeyRecord, now: number): string | null {
  return k.previous !== undefined && now < k.previous.expires ? isoSeconds(k.previous.expires) : null;
}

/** A key in a rotation grace period says so in tables: `active (grace)`. */
export function stateText(k: { readonly state: string; readonly graceUntil: string | null }): string {
  return k.graceUntil === null ? k.state : `${k.state} (grace)`;
}
