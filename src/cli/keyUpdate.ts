import { updateKey, type KeyFieldChange } from '../keys/editor.js';
import type { KeyRecord } from '../config/snapshot.js';
import type { RuleSpec } from '../policy/rules.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, type Parsed, requirePositional, stringList } from './args.js';
import { EXIT, UsageError, type CliIO } from './io.js';
import { isoSeconds, parseCidrArgs, parseRuleArg, parseTimeArg, readScope } from './keyArgs.js';
import { keyIdArg } from './keyIdArg.js';
import { checkRulesAgainstConfig, findKey, warningsAbout, writeKeys } from './keyStore.js';
import { displayPath, permissionLines, printWarnings, RELOAD_NOTE, scopeWarnings, stateWarnings } from './keyView.js';
import { loadOrFail } from './loadOrFail.js';

export const keyUpdateHelp =
  'keygate key update -c FILE ID [--name N] [--comment TEXT] [--expires 30d|DATE|never] [--not-before 12h|DATE|none] ' +
  '[--source-ip CIDR...|any] [--read-only | --allow RULE... | --inherit] [--deny RULE...|none] [--json]   change a key in place (same secret)';

export const UPDATE_OPTIONS = {
  ...CONFIG_OPTION,
  name: { type: 'string' },
  comment: { type: 'string' },
  expires: { type: 'string' },
  'not-before': { type: 'string' },
  'source-ip': { type: 'string', multiple: true },
  'read-only': { type: 'boolean' },
  inherit: { type: 'boolean' },
  allow: { type: 'string', multiple: true },
  deny: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

type Changes = Record<string, KeyFieldChange>;

/**
 * Changes what an operator would otherwise hand-edit: name, comment, validity, source
 * addresses, scope and deny rules. The secret and id stay; the edit is validated against
 * the whole configuration and written atomically, and the file's comments are kept.
 */
export async function runKeyUpdate(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, UPDATE_OPTIONS, 1);
  const configFile = configPath(args, io);
  const id = keyIdArg(requirePositional(args, 'key ID'), io, 'key ID');
  const now = io.now();
  const changes = readChanges(args, now);
  if (Object.keys(changes).length === 0)
    throw new UsageError(
      'nothing to change: give at least one of --name, --comment, --expires, --not-before, --source-ip, --allow/--read-only/--inherit, --deny',
    );
  const snapshot = loadOrFail(configFile, io);
  const key = findKey(snapshot, id);
  checkRulesAgainstConfig(snapshot, asRules(changes.allow), asRules(changes.deny));
  checkValidity(key, changes);
  const after = await writeKeys(configFile, key.file, io, (current) => {
    const next = updateKey(current, key.id, changes);
    return next === current ? undefined : next;
  });
  const updated = after ? findKey(after, key.id) : key;
  const warnings = after ? [...warningsAbout(after, key.id), ...scopeWarnings(after, updated), ...stateWarnings(after, updated, now)] : [];
  printWarnings(io, warnings);
  const changed = after ? Object.keys(changes) : [];
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ id: key.id, action: after ? 'updated' : 'unchanged', changed, file: key.file, warnings }, null, 2));
    return EXIT.ok;
  }
  if (!after) {
    io.out(`Key ${key.id} already has these values; nothing changed.`);
    return EXIT.ok;
  }
  io.out(
    [
      `Updated key ${key.id} "${updated.name}" of user ${updated.user} in ${displayPath(key.file)}: ${changed.join(', ')}. ${RELOAD_NOTE}`,
      ...('scope' in changes || 'deny' in changes ? ['', ...permissionLines(after, updated)] : []),
    ].join('\n'),
  );
  return EXIT.ok;
}

/** The fields to set, in keys-file names; null removes a field (`--expires never`, `--source-ip any`, `--deny none`, `--comment ""`). */
function readChanges(args: Parsed, now: number): Changes {
  const changes: Changes = {};
  const name = optionalString(args, 'name');
  if (name !== undefined) {
    if (name.trim() === '') throw new UsageError('--name must not be empty');
    changes.name = name;
  }
  const comment = optionalString(args, 'comment');
  if (comment !== undefined) changes.comment = comment === '' ? null : comment;
  const expires = optionalString(args, 'expires');
  if (expires !== undefined) changes.expires = expires === 'never' ? null : futureTime(expires, '--expires', now);
  const notBefore = optionalString(args, 'not-before');
  if (notBefore !== undefined) changes.notBefore = notBefore === 'none' ? null : isoSeconds(parseTimeArg(notBefore, '--not-before', now));
  const sourceIPs = stringList(args, 'source-ip');
  if (sourceIPs.length) changes.sourceIPs = anyOrList(sourceIPs, '--source-ip', () => parseCidrArgs(sourceIPs, '--source-ip'));
  const scope = readScope(args, false);
  if (scope) Object.assign(changes, { scope: scope.scope, allow: scope.allow ?? null });
  const deny = stringList(args, 'deny');
  if (deny.length) changes.deny = anyOrList(deny, '--deny', () => deny.map((r) => parseRuleArg(r, '--deny')), 'none');
  return changes;
}

function futureTime(text: string, name: string, now: number): string {
  const at = parseTimeArg(text, name, now);
  if (at <= now) throw new UsageError(`${name} ${isoSeconds(at)} is in the past (to stop a key now: keygate key revoke)`);
  return isoSeconds(at);
}

/** `--source-ip any` / `--deny none` removes the field; mixed with real values it is a mistake. */
function anyOrList<T>(values: readonly string[], name: string, parse: () => T[], word = 'any'): T[] | null {
  if (!values.includes(word)) return parse();
  if (values.length > 1) throw new UsageError(`${name} ${word} removes the list; it cannot be combined with other ${name} values`);
  return null;
}

function asRules(change: KeyFieldChange | undefined): readonly RuleSpec[] {
  return Array.isArray(change) ? (change as readonly RuleSpec[]) : [];
}

/** The new validity window with the fields not given kept as they are. */
function checkValidity(key: KeyRecord, changes: Changes): void {
  const at = (field: 'expires' | 'notBefore', current: number | undefined): number | undefined => {
    const c = changes[field];
    return c === undefined ? current : c === null ? undefined : Date.parse(c as string);
  };
  const expires = at('expires', key.expires);
  const notBefore = at('notBefore', key.notBefore);
  if (expires !== undefined && notBefore !== undefined && notBefore >= expires)
    throw new UsageError(`the key would never be valid: not before ${isoSeconds(notBefore)} but expires ${isoSeconds(expires)}`);
}
