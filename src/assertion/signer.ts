import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { AssertionSettings } from '../config/snapshot.js';
import type { AssertionKeyRing } from './keyRing.js';

/** Who the assertion names: the key's user and the key. */
export interface AssertedIdentity {
  readonly user: string;
  readonly id: string;
  readonly name: string;
}

interface CachedToken {
  readonly token: string | Promise<string>;
  /** Past this instant (epoch ms) less than half the ttl remains: sign a new one. */
  readonly refreshAt: number;
}

/** Tokens kept per service and config generation; a key beyond this many re-signs when it comes back. */
const TOKENS_PER_SERVICE = 10_000;

/**
 * Signs the identity assertion a service's upstream receives (a JWT: iss, sub = user,
 * aud, key_id, key_name, region, iat, exp, jti). Signing costs tens of µs, so the token
 * for a (key, service) is reused while more than half of its ttl remains: its `jti` then
 * names the token, not the request. The cache belongs to the service's settings object,
 * which every reload replaces, so a renamed key or a new signing key never reuses an old token.
 */
export class AssertionSigner {
  private readonly caches = new WeakMap<AssertionSettings, LRUCache<string, CachedToken>>();

  constructor(private readonly keys: AssertionKeyRing) {}

  /** The token: a string when cached (no await on the request path), else the signing promise. */
  tokenFor(settings: AssertionSettings, who: AssertedIdentity, region: string, now: number): string | Promise<string> {
    let cache = this.caches.get(settings);
    if (cache === undefined) {
      cache = new LRUCache({ max: TOKENS_PER_SERVICE });
      this.caches.set(settings, cache);
    }
    const hit = cache.get(who.id);
    if (hit !== undefined && now < hit.refreshAt) return hit.token;
    const token = this.sign(settings, who, region, now);
    const entry: CachedToken = { token, refreshAt: now + settings.ttl / 2 };
    cache.set(who.id, entry);
    void token.then(
      (signed) => {
        if (cache.peek(who.id) === entry) cache.set(who.id, { token: signed, refreshAt: entry.refreshAt });
      },
      () => {
        if (cache.peek(who.id) === entry) cache.delete(who.id);
      },
    );
    return token;
  }

  private sign(settings: AssertionSettings, who: AssertedIdentity, region: string, now: number): Promise<string> {
    const key = this.keys.keyFor(settings);
    const iat = Math.floor(now / 1000);
    return new SignJWT({ key_id: who.id, key_name: who.name, region })
      .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'JWT' })
      .setIssuer(settings.issuer)
      .setSubject(who.user)
      .setAudience(settings.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.floor(settings.ttl / 1000))
      .setJti(randomUUID())
      .sign(key.privateKey);
  }
}
