import { resolve } from 'node:path';
import { ConfigError, formatIssue } from '../reader/issues.js';
import { KeysFileError } from '../keys/errors.js';
import { writeValidated } from '../keys/atomicWrite.js';
import { dropEndedGrace } from '../keys/editor.js';
import { loadConfig } from '../config/load.js';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { refuseBundledExample } from './bundledExample.js';
import type { RuleSpec } from '../policy/rules.js';
import { didYouMean } from '../policy/suggest.js';
import { CommandFailed, UsageError, type CliIO } from './io.js';
import { checkRuleMethods } from './keyArgs.js';

/** Where `key create` and `key import` write: the first keys file, or `--keys-file` if it is one of them. */
export function chooseKeysFile(snapshot: Snapshot, option: string | undefined): string {
  if (snapshot.keysFiles.length === 0) throw new CommandFailed(`${snapshot.mainFile} lists no keys files ("keys: [./keys.yaml]")`);
  if (option === undefined) return snapshot.keysFiles[0];
  const wanted = resolve(option);
  if (!snapshot.keysFiles.includes(wanted)) {
    throw new UsageError(`--keys-file ${option} is not one of the keys files of ${snapshot.mainFile}: ${snapshot.keysFiles.join(', ')}`);
  }
  return wanted;
}

export function findKey(snapshot: Snapshot, id: string): KeyRecord {
  const key = snapshot.keys.byId.get(id);
  if (!key) throw new CommandFailed(`unknown key id "${id}"`);
  return key;
}

export function requireUser(snapshot: Snapshot, user: string): void {
  if (!snapshot.users.has(user)) {
    throw new CommandFailed(`unknown user "${user}" (users in ${snapshot.policyFile}: ${[...snapshot.users.keys()].join(', ') || 'none'})`);
  }
}

/** Every service a rule names must exist, and every method must be one the config knows (exit 1, nothing written). */
export function checkRulesAgainstConfig(snapshot: Snapshot, allow: readonly RuleSpec[], deny: readonly RuleSpec[]): void {
  for (const rule of allow) checkRuleMethods(rule, '--allow', snapshot.extraMethods);
  for (const rule of deny) checkRuleMethods(rule, '--deny', snapshot.extraMethods);
  const services = new Set(snapshot.services.map((s) => s.name));
  for (const rule of [...allow, ...deny]) {
    if (rule.service !== '*' && !services.has(rule.service)) {
      throw new CommandFailed(
        `unknown service "${rule.service}" in a rule (services: ${[...services].join(', ')})${didYouMean(rule.service, services)}`,
      );
    }
  }
}

/**
 * Applies `edit` to one keys file under its lock, checks that the whole configuration
 * with the edited text still loads, and only then writes. Returns the configuration
 * as it is after the write (undefined if `edit` changed nothing).
 */
export async function writeKeys(
  configFile: string,
  file: string,
  io: CliIO,
  edit: (current: string) => string | undefined,
): Promise<Snapshot | undefined> {
  refuseBundledExample(file);
  // Every edit also drops old secrets whose rotation grace has ended (`key rotate --grace`).
  const editAndPrune = (current: string): string | undefined => {
    const next = edit(current);
    return next === undefined ? undefined : dropEndedGrace(next, io.now());
  };
  try {
    return await writeValidated(file, editAndPrune, (next) => validateEdit(configFile, file, next, io));
  } catch (e) {
    if (e instanceof KeysFileError) throw asCommandFailed(e);
    throw e;
  }
}

function validateEdit(configFile: string, file: string, text: string, io: CliIO): Snapshot {
  const result = loadConfig(configFile, { env: io.env, overrides: new Map([[file, text]]), serviceTokens: false });
  if (result.ok) return result.snapshot;
  throw new CommandFailed(
    `nothing was written: the configuration would not load after this change (${result.errors.length} error(s)):\n${result.errors.map(formatIssue).join('\n')}`,
    { cause: new ConfigError(result.errors) },
  );
}

function asCommandFailed(e: KeysFileError): CommandFailed {
  // Between our first read and the lock, another command may have deleted the key.
  if (e.code === 'KEYGATE_KEYS_UNKNOWN_ID') return new CommandFailed(`${e.message} (it was removed meanwhile)`);
  return new CommandFailed(e.message);
}

/** The loader's warnings about one key, e.g. an orphaned or low-entropy one. */
export function warningsAbout(snapshot: Snapshot, id: string): string[] {
  return snapshot.warnings.filter((w) => w.keyId === id).map((w) => w.message);
}
