import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { type ParsedHash, deriveSlow, digestForCache, matchesDerived, saltGroupOf, verifyFast } from './hash.js';
import { KdfLimiter } from './kdfLimiter.js';
import { parseKey } from './keyFormat.js';

export interface VerifiableKey {
  readonly id: string;
  readonly hash: ParsedHash;
  readonly legacy: boolean;
  /** The secret before a rotation with a grace period, accepted until `expires` (epoch ms). */
  readonly previous?: { readonly hash: ParsedHash; readonly expires: number };
}

/** What the verifier needs of a lookup table (a Map is one; the key store has its own). */
export interface KeyLookup<K> {
  get(key: string): K | undefined;
  has(key: string): boolean;
}

export interface KeyIndex<K extends VerifiableKey> {
  readonly byId: KeyLookup<K>;
  readonly legacyByDigest: KeyLookup<K>;
  readonly legacySlow: readonly K[];
}

/** `rate_limited`: the slow-hash queue was full (or this client held its share): nothing was decided. */
export type VerifyFailureReason = 'malformed_credentials' | 'unknown_key' | 'bad_secret' | 'rate_limited';

export type VerifyResult<K> = { ok: true; key: K } | { ok: false; reason: VerifyFailureReason; keyId?: string };

export interface KeyVerifierOptions {
  cacheSize?: number;
  negativeCacheSize?: number;
  kdfConcurrency?: number;
  maxQueuedKdf?: number;
  /** KDF jobs (running or queued) one client may hold at once. */
  maxKdfPerClient?: number;
}

export interface KeyVerifierStats {
  kdfRuns: number;
  cacheHits: number;
  negativeHits: number;
}

/** What a KDF run proved, by hash text so a changed key invalidates it. */
type Verdict = { keyId: string; hashText: string };
type SlowOutcome = Verdict | 'no_match' | 'throttled';

type SlowHash = Extract<ParsedHash, { algorithm: 'scrypt' | 'pbkdf2-sha512' }>;

/**
 * Slow hashes sharing algorithm, parameters, salt and length: one KDF run of a presented
 * secret, then a lookup of its result, checks all of them. Keys imported together share
 * a salt, so however many low-entropy legacy keys exist, a presented secret costs one
 * run per salt (keys hashed before salts were shared each form a group of their own).
 */
interface SaltGroup<K extends VerifiableKey> {
  readonly hash: SlowHash;
  /** base64url of the stored hash → its key. */
  readonly members: ReadonlyMap<string, { readonly key: K; readonly hash: SlowHash }>;
}

/** One presented secret checked against the slow hashes that could match it. */
interface SlowCheck<K extends VerifiableKey> {
  digest: string;
  secret: string;
  candidates: readonly K[];
  groups: readonly SaltGroup<K>[];
  /** What a cached failure must match to still hold: the hash text(s) it was tried against. */
  scope: string;
  /** Who asked (the client address): its share of the KDF queue is bounded. */
  client: string;
}

const MALFORMED = Object.freeze(denied('malformed_credentials'));
const UNKNOWN = Object.freeze(denied('unknown_key'));

export class KeyVerifier {
  readonly #verified: LRUCache<string, Verdict>;
  /** digest → the scope it failed in. */
  readonly #rejected: LRUCache<string, string>;
  /** Concurrent requests with the same secret share one KDF run. */
  readonly #inflight = new Map<string, Promise<SlowOutcome>>();
  readonly #limiter: KdfLimiter;
  readonly #legacyScopes = new WeakMap<object, string>();
  readonly #legacyGroups = new WeakMap<object, readonly SaltGroup<VerifiableKey>[]>();
  readonly #stats: KeyVerifierStats = { kdfRuns: 0, cacheHits: 0, negativeHits: 0 };

  constructor(opts: KeyVerifierOptions = {}) {
    this.#verified = new LRUCache({ max: opts.cacheSize ?? 10_000 });
    this.#rejected = new LRUCache({ max: opts.negativeCacheSize ?? 10_000 });
    this.#limiter = new KdfLimiter(opts.kdfConcurrency ?? 2, opts.maxQueuedKdf ?? 64, opts.maxKdfPerClient ?? 4);
  }

  // Not `async`: everything up to the KDF queue decision runs synchronously, so
  // concurrent calls see each other's slots and in-flight runs in call order.
  // `client` (the client address) bounds one client's share of the slow-hash queue.
  verify<K extends VerifiableKey>(index: KeyIndex<K>, presented: string, client = '', now = Date.now()): Promise<VerifyResult<K>> {
    const result = this.verifyNow(index, presented, client, now);
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  /**
   * `verify`, answered at once when no slow hash is involved (kg_ keys with sha256, unknown
   * ids, malformed strings): the request path then takes no promise hop before forwarding.
   */
  verifyNow<K extends VerifiableKey>(
    index: KeyIndex<K>,
    presented: string,
    client = '',
    now = Date.now(),
  ): VerifyResult<K> | Promise<VerifyResult<K>> {
    const parsed = parseKey(presented);
    switch (parsed.kind) {
      case 'malformed':
        return MALFORMED;
      case 'keygate':
        return this.#verifyKeygate(index, parsed.id, parsed.secret, presented, client, now);
      case 'legacy':
        return this.#verifyLegacy(index, presented, client);
    }
  }

  stats(): KeyVerifierStats {
    return { ...this.#stats };
  }

  #verifyKeygate<K extends VerifiableKey>(
    index: KeyIndex<K>,
    keyId: string,
    secret: string,
    presented: string,
    client: string,
    now: number,
  ): VerifyResult<K> | Promise<VerifyResult<K>> {
    const key = index.byId.get(keyId);
    // A legacy key is reachable only through its legacy string, never a kg_ key.
    if (!key || key.legacy) return denied('unknown_key', keyId);
    if (key.hash.algorithm === 'sha256') {
      const ok = verifyFast(key.hash, secret) || inGrace(key, secret, now);
      return ok ? { ok: true, key } : denied('bad_secret', keyId);
    }
    const check = { digest: digestForCache(presented), secret, candidates: [key], groups: saltGroups([key]), scope: key.hash.text, client };
    return this.#slowVerify(index, check).then((outcome) => slowResult(check, outcome, 'bad_secret', keyId));
  }

  #verifyLegacy<K extends VerifiableKey>(
    index: KeyIndex<K>,
    presented: string,
    client: string,
  ): VerifyResult<K> | Promise<VerifyResult<K>> {
    const digest = digestForCache(presented);
    const fast = index.legacyByDigest.get(digest);
    if (fast && fast.hash.algorithm === 'sha256' && verifyFast(fast.hash, presented)) return { ok: true, key: fast };
    if (index.legacySlow.length === 0) return UNKNOWN;
    const check = {
      digest,
      secret: presented,
      candidates: index.legacySlow,
      groups: this.#saltGroups(index),
      scope: this.#legacyScope(index),
      client,
    };
    return this.#slowVerify(index, check).then((outcome) => slowResult(check, outcome, 'unknown_key'));
  }

  #slowVerify<K extends VerifiableKey>(index: KeyIndex<K>, check: SlowCheck<K>): Promise<SlowOutcome> {
    const cached = this.#cachedVerdict(index, check.digest);
    if (cached) return Promise.resolve(cached);
    if (this.#rejected.get(check.digest) === check.scope) {
      this.#stats.negativeHits++;
      return Promise.resolve('no_match');
    }
    const flightKey = `${check.digest} ${check.scope}`;
    return this.#inflight.get(flightKey) ?? this.#startKdf(check, flightKey);
  }

  /** A cached verdict holds only while the key still has the hash it was proven against. */
  #cachedVerdict<K extends VerifiableKey>(index: KeyIndex<K>, digest: string): Verdict | undefined {
    const verdict = this.#verified.get(digest);
    if (!verdict) return undefined;
    if (index.byId.get(verdict.keyId)?.hash.text === verdict.hashText) {
      this.#stats.cacheHits++;
      return verdict;
    }
    this.#verified.delete(digest);
    return undefined;
  }

  #startKdf<K extends VerifiableKey>(check: SlowCheck<K>, flightKey: string): Promise<SlowOutcome> {
    const slot = this.#limiter.tryAcquire(check.client);
    if (!slot) return Promise.resolve('throttled');
    const run = slot
      .then(() => this.#runKdf(check))
      .finally(() => {
        this.#limiter.release(check.client);
        this.#inflight.delete(flightKey);
      });
    this.#inflight.set(flightKey, run);
    return run;
  }

  async #runKdf<K extends VerifiableKey>(check: SlowCheck<K>): Promise<SlowOutcome> {
    for (const group of check.groups) {
      this.#stats.kdfRuns++;
      const derived = await deriveSlow(group.hash, check.secret);
      const hit = group.members.get(derived.toString('base64url'));
      // The lookup only finds the candidate; the comparison that decides is constant-time.
      if (hit && matchesDerived(hit.hash, derived)) {
        const verdict = { keyId: hit.key.id, hashText: hit.hash.text };
        this.#verified.set(check.digest, verdict);
        this.#rejected.delete(check.digest);
        return verdict;
      }
    }
    this.#rejected.set(check.digest, check.scope);
    return 'no_match';
  }

  #saltGroups<K extends VerifiableKey>(index: KeyIndex<K>): readonly SaltGroup<K>[] {
    let groups = this.#legacyGroups.get(index) as readonly SaltGroup<K>[] | undefined;
    if (!groups) {
      groups = saltGroups(index.legacySlow);
      this.#legacyGroups.set(index, groups);
    }
    return groups;
  }

  /** Changes whenever the set of slow legacy hashes does, so stale failures stop counting. */
  #legacyScope<K extends VerifiableKey>(index: KeyIndex<K>): string {
    let scope = this.#legacyScopes.get(index);
    if (scope === undefined) {
      const texts = index.legacySlow.map((key) => key.hash.text).sort();
      scope = `legacy:${createHash('sha256').update(texts.join('\n')).digest('base64url')}`;
      this.#legacyScopes.set(index, scope);
    }
    return scope;
  }
}

/** The old secret of a key rotated with `--grace`, while its grace lasts. */
function inGrace(key: VerifiableKey, secret: string, now: number): boolean {
  const previous = key.previous;
  return previous !== undefined && now < previous.expires && previous.hash.algorithm === 'sha256' && verifyFast(previous.hash, secret);
}

function saltGroups<K extends VerifiableKey>(keys: readonly K[]): readonly SaltGroup<K>[] {
  const groups = new Map<string, { hash: SlowHash; members: Map<string, { key: K; hash: SlowHash }> }>();
  for (const key of keys) {
    const hash = key.hash;
    if (hash.algorithm === 'sha256') continue;
    const name = `${saltGroupOf(hash)}$${hash.hash.length}`;
    const group = groups.get(name) ?? { hash, members: new Map() };
    const stored = hash.hash.toString('base64url');
    if (!group.members.has(stored)) group.members.set(stored, { key, hash });
    groups.set(name, group);
  }
  return Object.freeze([...groups.values()]);
}

/** Maps an outcome back onto the caller's own index (a shared run may have started on another). */
function slowResult<K extends VerifiableKey>(
  check: SlowCheck<K>,
  outcome: SlowOutcome,
  noMatch: 'bad_secret' | 'unknown_key',
  keyId?: string,
): VerifyResult<K> {
  if (outcome === 'throttled') return denied('rate_limited', keyId);
  const key = outcome === 'no_match' ? undefined : check.candidates.find((c) => c.hash.text === outcome.hashText);
  return key ? { ok: true, key } : denied(noMatch, keyId);
}

function denied(reason: VerifyFailureReason, keyId?: string): { ok: false; reason: VerifyFailureReason; keyId?: string } {
  return keyId === undefined ? { ok: false, reason } : { ok: false, reason, keyId };
}
