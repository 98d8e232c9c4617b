import { resolve } from 'node:path';
import { saltGroupOf } from '../auth/hash.js';
import { compileCidrs } from '../policy/cidr.js';
import { capToUser, limitText, type RateLimit } from '../policy/rateLimits.js';
import { didYouMean } from '../policy/suggest.js';
import { unknownLimit } from './rateLimitReader.js';
import { fileMeta, fingerprintBytes, fingerprintError, nowNs, stable, type SourceMetas, type Sources } from './fingerprint.js';
import { fingerprintListing, isDirectorySource, keysFilesIn } from './keysDirectory.js';
import { readFailure, readRegularFileAndStats } from './regularFile.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { KeyFacts, KeyStore } from '../keys/store.js';
import { readKeysFile } from '../keys/reader.js';
import { eachKeyByLine, readKeysFast } from '../keys/fastReader.js';
import { FOR_JS_YAML, readKeysEntryByEntry } from '../keys/entryReader.js';
import { readKeysQuickly } from '../keys/quickReader.js';
import { keysWorthAWarning } from '../keys/loadChecks.js';
import { KeySet, type KeysRead, type RateLimitedKey } from './keySet.js';
import { readMainFile, type MainConfig, type ServiceDraft, type ShadowFiles } from './mainFile.js';
import { readPolicyFile, type PolicyFile } from './policyFile.js';
import type { RuleNames } from '../reader/ruleReader.js';
import type { AssertionSettings, KeyRecord, ServiceConfig, ShadowCandidate, Snapshot } from './snapshot.js';
import type { AssertionDraft } from './assertionReader.js';
import { parseSigningKey } from '../assertion/signingKey.js';
import { YamlReader } from '../reader/yamlReader.js';

/**
 * `sources`: every file read (or tried), with a fingerprint of what was there; hot reload
 * watches them. `metas`: the metadata of those that were stable when read, so the
 * watcher need not read them again to know they are unchanged.
 */
export type LoadResult =
  | { ok: true; snapshot: Snapshot; warnings: readonly ConfigIssue[]; sources: Sources; metas: SourceMetas }
  | { ok: false; errors: readonly ConfigIssue[]; warnings: readonly ConfigIssue[]; sources: Sources; metas: SourceMetas };

export interface LoadOptions {
  generation?: number;
  env?: NodeJS.ProcessEnv;
  /** Text to use instead of a file's contents, by resolved path: `key` commands validate an edit before writing it. */
  overrides?: ReadonlyMap<string, string>;
  /**
   * false: leave service tokens empty instead of reading their files or variables. For
   * commands that never forward (`key`, `explain`, `permissions`), run where the token
   * may not exist; `serve` and `check` always read them.
   */
  serviceTokens?: boolean;
  /** Read the assertion signing keys; default: as `serviceTokens` (`keygate jwks` reads keys, not tokens). */
  signingKeys?: boolean;
}

/**
 * Reads and validates keygate.yaml, its policy file, keys files and token files, and
 * compiles them into one frozen snapshot. Every problem is reported, none is fatal early.
 */
export function loadConfig(mainFile: string, options: LoadOptions = {}): LoadResult {
  const ctx = new LoadContext(options.overrides);
  const mainPath = resolve(mainFile);
  const main = ctx.read(mainPath, (r) => readMainFile(r));
  if (!main) return ctx.result();
  const names: RuleNames = { services: new Set(main.declaredServices), extraMethods: new Set(main.extraMethods) };
  const policy = ctx.read(main.policy, (r) => readPolicyFile(r, names));
  const keysFiles = main.keys.flatMap((entry) => ctx.keysFilesOf(entry));
  const keys = ctx.readKeys(keysFiles, names);
  const signingKeys = options.signingKeys ?? options.serviceTokens !== false;
  const services = main.services.map((s) =>
    resolveToken(ctx, s, options.serviceTokens === false ? undefined : (options.env ?? process.env), signingKeys),
  );
  checkConflicts(ctx, keys);
  if (!policy || ctx.errors.length) return ctx.result();
  warnAboutKeys(ctx, keys.store, policy);
  const byKey = keyRateLimits(ctx, keys.rateLimited, policy);
  if (ctx.errors.length) return ctx.result();
  const live = buildSnapshot(mainPath, main, policy, keysFiles, keys, services as ServiceConfig[], byKey, ctx.warnings, options.generation ?? 1);
  const snapshot = main.shadow ? withShadow(live, loadShadow(ctx, main.shadow, names, policy)) : live;
  return { ok: true, snapshot, warnings: ctx.warnings, sources: ctx.sources, metas: ctx.metas };
}

class LoadContext {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  constructor(
    readonly overrides: ReadonlyMap<string, string> = new Map(),
    /** Shared by the shadow candidate's context, so hot reload follows its files too. */
    readonly sources = new Map<string, string>(),
    readonly metas = new Map<string, string>(),
  ) {}

  /** A file's text, fingerprinted from the very bytes parsed so a reload never misses a change made meanwhile. */
  readText(file: string): string {
    const override = this.overrides.get(file);
    let bytes: Buffer;
    this.metas.delete(file);
    try {
      if (override === undefined) {
        const readStartedNs = nowNs();
        const read = readRegularFileAndStats(file);
        bytes = read.bytes;
        if (stable(read.stats, readStartedNs)) this.metas.set(file, fileMeta(read.stats));
      } else bytes = Buffer.from(override);
    } catch (e) {
      this.sources.set(file, fingerprintError(e));
      throw e;
    }
    this.sources.set(file, fingerprintBytes(bytes));
    return override ?? bytes.toString('utf8');
  }

  read<T>(file: string, fn: (r: YamlReader) => T): T | undefined {
    const text = this.textOf(file);
    return text === undefined ? undefined : this.parse(file, text, fn);
  }

  /** A `keys:` entry: the file itself, or every keys file of a directory (recorded, so files that come and go reload). */
  keysFilesOf(entry: string): string[] {
    if (!isDirectorySource(entry)) return [entry];
    const dir = entry.slice(0, -1);
    try {
      const files = keysFilesIn(dir);
      this.sources.set(entry, fingerprintListing(files));
      return files;
    } catch (e) {
      this.sources.set(entry, fingerprintError(e));
      this.errors.push({ file: dir, line: 1, col: 1, message: `cannot list keys directory: ${readFailure(e)}` });
      return [];
    }
  }

  /** Keys files, laid out in one key store as they are read. */
  readKeys(files: readonly string[], names: RuleNames): KeysRead {
    const set = new KeySet();
    for (const file of files) this.#readKeysFile(file, names, set);
    return set.finish();
  }

  /**
   * A keys file: a fast path when it is valid (entries as `keygate key` writes them, else
   * by line, else js-yaml), the positioned one to say what is wrong when not.
   */
  #readKeysFile(file: string, names: RuleNames, set: KeySet): void {
    const text = this.textOf(file);
    if (text === undefined) return;
    const before = set.count;
    if (readKeysQuickly(file, text, names, set)) return;
    set.truncate(before);
    // Entry by entry (the line reader, the positioned parser for an entry it refuses): a wrong entry costs that entry, not a parse of the whole file.
    const byEntry = readKeysEntryByEntry(file, text, names);
    if (byEntry !== undefined && byEntry !== FOR_JS_YAML) {
      this.errors.push(...byEntry.errors);
      this.warnings.push(...byEntry.warnings);
      for (const key of byEntry.keys) set.add(key);
      return;
    }
    // Not after FOR_JS_YAML: the line reader has just refused over a thousand of the file's entries.
    if (byEntry === undefined) {
      if (eachKeyByLine(file, text, names, (key) => set.add(key))) return;
      set.truncate(before);
    }
    const keys = readKeysFast(file, text, names) ?? this.parse(file, text, (r) => readKeysFile(r, names)) ?? [];
    for (const key of keys) set.add(key);
  }

  private textOf(file: string): string | undefined {
    try {
      return this.readText(file);
    } catch (e) {
      this.errors.push({ file, line: 1, col: 1, message: `cannot read file: ${readFailure(e)}` });
      return undefined;
    }
  }

  private parse<T>(file: string, text: string, fn: (r: YamlReader) => T): T | undefined {
    const r = new YamlReader(file, text);
    const out = r.root === undefined && r.issues.length ? undefined : fn(r);
    this.errors.push(...r.issues);
    this.warnings.push(...r.warnings);
    return out;
  }

  result(): LoadResult {
    return { ok: false, errors: this.errors, warnings: this.warnings, sources: this.sources, metas: this.metas };
  }
}

/** `env` undefined: the token is not read (LoadOptions.serviceTokens false) and stays empty. */
function resolveToken(ctx: LoadContext, s: ServiceDraft, env: NodeJS.ProcessEnv | undefined, signingKeys: boolean): ServiceConfig | undefined {
  const { token, assertion: draft, ...rest } = s;
  const value = env === undefined ? '' : readTokenValue(ctx, s, env);
  const assertion = draft && (signingKeys ? readAssertionKey(ctx, s.name, draft) : { ...withoutPosition(draft), keyPem: '' });
  if (value === undefined || (draft && !assertion)) return undefined;
  return Object.freeze({
    ...rest,
    serviceToken: Object.freeze({ header: token.header, scheme: token.scheme, source: token.source, value }),
    ...(assertion ? { assertion: Object.freeze(assertion) } : {}),
  });
}

/** The assertion's signing key, read and checked now so a bad key file is a load error, never a failed request. */
function readAssertionKey(ctx: LoadContext, service: string, draft: AssertionDraft): AssertionSettings | undefined {
  const fail = (message: string): undefined => {
    ctx.errors.push({ ...draft.at, message: `service ${service}: assertion signing key ${draft.keyFile} ${message}` });
    return undefined;
  };
  let keyPem: string;
  try {
    keyPem = ctx.readText(draft.keyFile);
  } catch (e) {
    return fail(`cannot be read: ${readFailure(e)}`);
  }
  const parsed = parseSigningKey(keyPem, draft.algorithm);
  if ('error' in parsed) return fail(parsed.error);
  return { ...withoutPosition(draft), keyPem };
}

function withoutPosition(draft: AssertionDraft): Omit<AssertionSettings, 'keyPem'> {
  const { at: _at, ...settings } = draft;
  return settings;
}

function readTokenValue(ctx: LoadContext, s: ServiceDraft, env: NodeJS.ProcessEnv): string | undefined {
  const src = s.token.source;
  const fail = (message: string): undefined => {
    ctx.errors.push({ ...s.token.at, message: `service ${s.name}: ${message}` });
    return undefined;
  };
  if (src.kind === 'none') return '';
  if (src.kind === 'env') {
    const v = env[src.name]?.trim();
    return v ? v : fail(`environment variable ${src.name} for the service token is not set`);
  }
  try {
    const v = ctx.readText(src.path).trim();
    return v ? v : fail(`service token file ${src.path} is empty`);
  } catch (e) {
    return fail(`cannot read service token file ${src.path}: ${readFailure(e)}`);
  }
}

/** Across every keys file: a duplicate id or a shared legacy secret is an error naming both places, in file order. */
function checkConflicts(ctx: LoadContext, keys: KeysRead): void {
  const { store, duplicates } = keys;
  const legacy = new Map<string, KeyFacts>();
  let next = 0;
  for (let slot = 0; slot < store.size; slot++) {
    const duplicate = duplicates[next]?.[0] === slot ? duplicates[next++] : undefined;
    if (duplicate) {
      const [key, first] = [store.facts(slot), store.facts(duplicate[1])];
      ctx.errors.push(at(key, `duplicate key id "${key.id}" (first at ${first.file}:${first.line}:${first.col})`));
      continue;
    }
    if (!store.isLegacySha256(slot)) continue;
    const key = store.facts(slot);
    const digest = key.hash!.algorithm === 'sha256' ? key.hash!.digest.toString('base64url') : '';
    const first = legacy.get(digest);
    if (first) ctx.errors.push(at(key, `legacy key ${key.id} has the same secret as key ${first.id} (${first.file}:${first.line}:${first.col})`));
    else legacy.set(digest, key);
  }
}

function warnAboutKeys(ctx: LoadContext, store: KeyStore, policy: PolicyFile): void {
  for (const w of keysWorthAWarning(store, (user) => policy.users.has(user))) {
    const key = store.facts(w.slot);
    if (w.twin !== undefined) {
      const twin = store.facts(w.twin);
      ctx.warnings.push(at(key, `key ${key.id}: user ${key.user} already has a key named "${key.name}" (${twin.id} at ${twin.file}:${twin.line}:${twin.col}); names are how people find keys, so give each its own`));
    }
    if (w.unknownUser) ctx.warnings.push(at(key, `key ${key.id}: user "${key.user}" is not in the policy${didYouMean(key.user, policy.users.keys())}; the key is dead (user_unknown)`));
    if (w.weakLegacy) ctx.warnings.push(at(key, `key ${key.id}: low-entropy legacy secret; rotate it with "keygate key rotate ${key.id}"`));
    if (w.restrictedWithoutAllow) ctx.warnings.push(at(key, `key ${key.id}: restricted key with no allow rules can do nothing`));
  }
  warnAboutLegacySalts(ctx, store.legacySlow);
  for (const g of policy.guardrails.rules) {
    for (const id of g.except ?? []) {
      if (!store.byId.has(id)) ctx.warnings.push({ file: g.origin.file ?? '', line: g.origin.line ?? 1, col: g.origin.col ?? 1, message: `guardrail except names unknown key id "${id}"`, keyId: id });
    }
  }
}

/**
 * A presented legacy secret costs one KDF run per salt among the slow legacy hashes;
 * keys imported before imports shared a salt each have their own.
 */
function warnAboutLegacySalts(ctx: LoadContext, slow: readonly KeyRecord[]): void {
  const groups = new Map<string, KeyRecord>();
  for (const key of slow) if (key.hash.algorithm !== 'sha256') groups.set(saltGroupOf(key.hash), key);
  if (groups.size <= 1) return;
  const first = slow[0];
  ctx.warnings.push(at(first, `${slow.length} low-entropy legacy keys use ${groups.size} different salts, so every presented legacy secret costs ${groups.size} KDF runs; re-import their secrets with "keygate key import" (one shared salt) or rotate them`));
}

/**
 * Each key's own limits by name, capped to its user's: a key never does more than its
 * user, so a looser key limit is a warning and the user's rate and burst apply.
 */
function keyRateLimits(ctx: LoadContext, keys: readonly RateLimitedKey[], policy: PolicyFile): Map<string, readonly RateLimit[]> {
  const byKey = new Map<string, readonly RateLimit[]>();
  for (const key of keys) {
    const userLimits = policy.users.get(key.user)?.rateLimits ?? [];
    const limits: RateLimit[] = [];
    for (const name of key.rateLimit) {
      const limit = policy.rateLimits.get(name);
      if (!limit) {
        ctx.errors.push(at(key, unknownLimit(`key ${key.id}`, name, policy.rateLimits)));
        continue;
      }
      const capped = capToUser(limit, userLimits);
      if (capped) ctx.warnings.push(at(key, `key ${key.id}: rate limit "${name}" (${limitText(limit)}) is looser than user ${key.user}'s "${capped.by.name}" (${limitText(capped.by)}); capped to ${capped.limit.rateText}, burst ${capped.limit.burst}`));
      limits.push(capped?.limit ?? limit);
    }
    byKey.set(key.id, Object.freeze(limits));
  }
  return byKey;
}

type ShadowLoad = { ok: true; candidate: ShadowCandidate } | { ok: false; errors: readonly ConfigIssue[] };

/**
 * The candidate of keygate.yaml `shadow`, validated like the live files but in a context
 * of its own: its errors make it absent, never the live config invalid. The live policy
 * stands in for a candidate that names only keys (and checks their users and limits).
 */
function loadShadow(live: LoadContext, files: ShadowFiles, names: RuleNames, livePolicy: PolicyFile): ShadowLoad {
  const ctx = new LoadContext(live.overrides, live.sources, live.metas);
  const policy = files.policy === undefined ? livePolicy : ctx.read(files.policy, (r) => readPolicyFile(r, names));
  const keysFiles = files.keys?.flatMap((entry) => ctx.keysFilesOf(entry));
  const keys = keysFiles && ctx.readKeys(keysFiles, names);
  if (keys) checkConflicts(ctx, keys);
  if (policy && keys) keyRateLimits(ctx, keys.rateLimited, policy);
  if (!policy || ctx.errors.length) return { ok: false, errors: ctx.errors };
  const named = [...(files.policy !== undefined ? [files.policy] : []), ...(keysFiles ?? [])];
  return {
    ok: true,
    candidate: Object.freeze({
      files: Object.freeze(named),
      ...(files.policy !== undefined ? { policy: Object.freeze({ users: policy.users, guardrails: policy.guardrails }) } : {}),
      ...(keys ? { keys: keys.store } : {}),
    }),
  };
}

function withShadow(live: Snapshot, load: ShadowLoad): Snapshot {
  return Object.freeze(load.ok ? { ...live, shadow: load.candidate, shadowErrors: [] } : { ...live, shadowErrors: Object.freeze([...load.errors]) });
}

function at(key: Pick<KeyRecord, 'id' | 'file' | 'line' | 'col'>, message: string): ConfigIssue {
  return { file: key.file, line: key.line, col: key.col, message, keyId: key.id };
}

function buildSnapshot(
  mainFile: string, main: MainConfig, policy: PolicyFile, keysFiles: string[], keys: KeysRead, services: ServiceConfig[], byKey: Map<string, readonly RateLimit[]>,
  warnings: readonly ConfigIssue[], generation: number,
): Snapshot {
  const tokenFiles = services.flatMap((s) => (s.serviceToken.source.kind === 'file' ? [s.serviceToken.source.path] : []));
  const signingKeys = services.flatMap((s) => (s.assertion ? [s.assertion.keyFile] : []));
  return Object.freeze({
    generation,
    mainFile,
    policyFile: main.policy,
    keysFiles: Object.freeze(keysFiles),
    watchedFiles: Object.freeze([...new Set([mainFile, main.policy, ...keysFiles, ...tokenFiles, ...signingKeys])]),
    region: main.region,
    extraMethods: Object.freeze([...main.extraMethods]),
    listen: Object.freeze({ ...main.listen, trustedProxies: compileCidrs(main.listen.trustedProxies) }),
    services: Object.freeze(services),
    users: policy.users,
    guardrails: policy.guardrails,
    keyRotation: policy.keyRotation,
    keys: keys.store,
    limits: Object.freeze(main.limits),
    shutdown: Object.freeze(main.shutdown),
    reload: Object.freeze(main.reload),
    log: Object.freeze(main.log),
    metrics: Object.freeze(main.metrics),
    rateLimits: Object.freeze({ ...main.rateLimiting, named: policy.rateLimits, byKey }),
    clientCertBindings: keys.clientCertBindings,
    state: Object.freeze(main.state),
    warnings: Object.freeze([...warnings]),
  });
}
