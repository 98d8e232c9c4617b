import type { AssertionSettings } from '../config/snapshot.js';
import { parseSigningKey, type PublicJwk, type SigningKey } from './signingKey.js';

/**
 * The signing keys in use and the public keys a verifier may still need. Keys are parsed
 * once per key file content (and `kid`); when a reload replaces a key, its public half
 * stays in the JWKS for one assertion ttl, the longest any token it signed stays valid,
 * so rotating the key file never fails a verification.
 */
export class AssertionKeyRing {
  /** By key file content (the PEM): the same text is the same key object and `kid`. */
  private readonly parsed = new Map<string, SigningKey>();
  private active = new Map<string, SigningKey>();
  /** kid → the key and until when (epoch ms) it stays published. */
  private readonly retired = new Map<string, { key: SigningKey; until: number }>();
  /** kid → the longest ttl of the services signing with it. */
  private ttls = new Map<string, number>();

  /** The key a service's assertion is signed with (validated at load, so parsing cannot fail here). */
  keyFor(settings: AssertionSettings): SigningKey {
    let key = this.parsed.get(settings.keyPem);
    if (key === undefined) {
      const read = parseSigningKey(settings.keyPem, settings.algorithm);
      if ('error' in read) throw new Error(`assertion key ${settings.keyFile} ${read.error}`);
      key = read;
      this.parsed.set(settings.keyPem, key);
    }
    return key;
  }

  /** A new config is in use: its keys are active, the ones it dropped retire for one ttl. */
  update(services: readonly { readonly assertion?: AssertionSettings }[], now: number): void {
    const next = new Map<string, SigningKey>();
    const ttlOf = new Map<string, number>();
    for (const s of services) {
      if (!s.assertion) continue;
      const key = this.keyFor(s.assertion);
      next.set(key.kid, key);
      ttlOf.set(key.kid, Math.max(ttlOf.get(key.kid) ?? 0, s.assertion.ttl));
    }
    for (const [kid, key] of this.active) {
      if (!next.has(kid)) this.retired.set(kid, { key, until: now + (this.ttls.get(kid) ?? 0) });
    }
    for (const kid of next.keys()) this.retired.delete(kid);
    this.active = next;
    this.ttls = ttlOf;
    this.prune(now);
  }

  /** The JWKS document: every active key, then the retired ones still within their ttl. */
  jwks(now: number): { keys: PublicJwk[] } {
    this.prune(now);
    return { keys: [...[...this.active.values()].map((k) => k.publicJwk), ...[...this.retired.values()].map((r) => r.key.publicJwk)] };
  }

  private prune(now: number): void {
    for (const [kid, r] of this.retired) if (r.until <= now) this.retired.delete(kid);
    const kept = new Set([...this.active.keys(), ...this.retired.keys()]);
    for (const [pem, key] of this.parsed) if (!kept.has(key.kid)) this.parsed.delete(pem);
  }
}
