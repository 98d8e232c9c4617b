import { appendKeys, type KeyEntry } from '../keys/editor.js';
import { keyString, mintSecret, takenIds, unusedId } from '../keys/mint.js';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, type Parsed, requireString, stringList } from './args.js';
import { EXIT, UsageError, type CliIO } from './io.js';
import { checkShadowRules, isoSeconds, parseCidrArgs, parseRuleArg, parseTimeArg, readScope, readShadowArgs } from './keyArgs.js';
import { checkRulesAgainstConfig, chooseKeysFile, findKey, requireUser, warningsAbout, writeKeys } from './keyStore.js';
import { displayPath, permissionLines, printWarnings, RELOAD_NOTE, scopeWarnings, showOnce, stateWarnings } from './keyView.js';
import { loadOrFail } from './loadOrFail.js';

export const keyCreateHelp =
  'keygate key create -c FILE --user U --name N [--read-only | --allow RULE... | --inherit] [--deny RULE]... ' +
  '[--expires 30d|DATE] [--not-before 12h|DATE] [--source-ip CIDR]... [--rate-limit NAME] [--shadow-allow RULE]... [--shadow-deny RULE]... [--comment TEXT] [--keys-file PATH] [--json]';

const OPTIONS = {
  ...CONFIG_OPTION,
  user: { type: 'string' },
  name: { type: 'string' },
  'read-only': { type: 'boolean' },
  inherit: { type: 'boolean' },
  allow: { type: 'string', multiple: true },
  deny: { type: 'string', multiple: true },
  'shadow-allow': { type: 'string', multiple: true },
  'shadow-deny': { type: 'string', multiple: true },
  expires: { type: 'string' },
  'not-before': { type: 'string' },
  'source-ip': { type: 'string', multiple: true },
  'rate-limit': { type: 'string' },
  comment: { type: 'string' },
  'keys-file': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Everything of the new entry but its id and hash, read from the command line. */
type Request = Omit<KeyEntry, 'id' | 'hash'>;

export async function runKeyCreate(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, OPTIONS);
  const now = io.now();
  const request = readRequest(args, now);
  const configFile = configPath(args, io);
  const snapshot = loadOrFail(configFile, io);
  checkAgainstConfig(snapshot, request);
  const file = chooseKeysFile(snapshot, optionalString(args, 'keys-file'));
  const minted = mintSecret();
  let id = '';
  const after = await writeKeys(configFile, file, io, (current) => {
    id = unusedId(takenIds(current, snapshot.keys.byId));
    return appendKeys(current, [{ id, hash: minted.hash, ...request }]);
  });
  const key = findKey(after!, id);
  const warnings = [...warningsAbout(after!, id), ...scopeWarnings(after!, key), ...stateWarnings(after!, key, now)];
  printWarnings(io, warnings);
  const shown = keyString(id, minted);
  io.reveal?.(shown);
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ id, key: shown, user: key.user, name: key.name, scope: key.scope, file, warnings }, null, 2));
    return EXIT.ok;
  }
  io.out(
    [
      `Created key ${id} "${key.name}" for user ${key.user} (${key.scope}) in ${displayPath(file)}.`,
      ...showOnce(shown),
      '',
      ...permissionLines(after!, key),
      ...limitLines(after!, key),
      RELOAD_NOTE,
    ].join('\n'),
  );
  return EXIT.ok;
}

function limitLines(snapshot: Snapshot, key: KeyRecord): string[] {
  const own = snapshot.rateLimits.byKey.get(key.id);
  const limits = [
    ...(key.notBefore !== undefined ? [`valid from ${isoSeconds(key.notBefore)}`] : []),
    ...(key.expires !== undefined ? [`expires ${isoSeconds(key.expires)}`] : []),
    ...(key.sourceIPs ? [`only from ${key.sourceIPs.text.join(', ')}`] : []),
    ...(own?.length ? [`rate limit ${own.map((l) => l.name).join(', ')}`] : []),
  ];
  return limits.length ? [`Limits: ${limits.join('; ')}.`] : [];
}

function readRequest(args: Parsed, now: number): Request {
  const scope = readScope(args, true)!;
  const deny = stringList(args, 'deny').map((r) => parseRuleArg(r, '--deny'));
  const expires = optionalTime(args, 'expires', now);
  const notBefore = optionalTime(args, 'not-before', now);
  if (expires !== undefined && expires <= now) throw new UsageError(`--expires ${isoSeconds(expires)} is in the past`);
  if (expires !== undefined && notBefore !== undefined && notBefore >= expires)
    throw new UsageError('--not-before must be earlier than --expires');
  const sourceIPs = parseCidrArgs(stringList(args, 'source-ip'), '--source-ip');
  const comment = optionalString(args, 'comment');
  const rateLimit = optionalString(args, 'rate-limit');
  const shadow = readShadowArgs(args);
  return {
    user: requireString(args, 'user'),
    name: requireString(args, 'name'),
    ...scope,
    ...(deny.length ? { deny } : {}),
    ...(shadow ? { shadow } : {}),
    ...(sourceIPs.length ? { sourceIPs } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    ...(expires !== undefined ? { expires: isoSeconds(expires) } : {}),
    ...(notBefore !== undefined ? { notBefore: isoSeconds(notBefore) } : {}),
    ...(comment !== undefined ? { comment } : {}),
    created: isoSeconds(now),
  };
}

function optionalTime(args: Parsed, name: string, now: number): number | undefined {
  const text = optionalString(args, name);
  return text === undefined ? undefined : parseTimeArg(text, `--${name}`, now);
}

/** Names that must exist: the user and every service a rule names (exit 1, nothing written). */
function checkAgainstConfig(snapshot: Snapshot, request: Request): void {
  requireUser(snapshot, request.user);
  checkRulesAgainstConfig(snapshot, request.allow ?? [], request.deny ?? []);
  checkShadowRules(snapshot, request.shadow);
}
