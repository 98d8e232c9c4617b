import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** The JWS algorithms an assertion may be signed with; EdDSA (Ed25519) is the default. */
export const ASSERTION_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const;
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

/** A public key as a JWKS lists it. */
export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly use: 'sig';
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/** A private key ready to sign, with its `kid` (the RFC 7638 thumbprint of its public half). */
export interface SigningKey {
  readonly kid: string;
  readonly algorithm: AssertionAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicJwk;
}

/**
 * A PEM (PKCS#8, or SEC1/PKCS#1 for EC/RSA) private key for `algorithm`, or why it cannot
 * sign with it. Never echoes the key. The `kid` is derived from the key itself, so a new
 * key file is a new `kid` and the same file always the same one, in every worker.
 */
export function parseSigningKey(pem: string, algorithm: AssertionAlgorithm): SigningKey | { error: string } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return { error: 'is not a PEM private key (openssl genpkey -algorithm ed25519 writes one)' };
  }
  const mismatch = algorithmMismatch(privateKey, algorithm);
  if (mismatch) return { error: mismatch };
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const kid = thumbprint(jwk);
  const publicJwk: PublicJwk = Object.freeze({ ...pick(jwk), kid, alg: algorithm, use: 'sig' as const });
  return Object.freeze({ kid, algorithm, privateKey, publicJwk });
}

function algorithmMismatch(key: KeyObject, algorithm: AssertionAlgorithm): string | undefined {
  const type = key.asymmetricKeyType;
  if (algorithm === 'EdDSA' && type !== 'ed25519') return `is a ${type} key; algorithm EdDSA needs an Ed25519 key`;
  if (algorithm === 'ES256' && (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1'))
    return `is a ${type} key; algorithm ES256 needs an EC P-256 key`;
  if (algorithm === 'RS256') {
    if (type !== 'rsa') return `is a ${type} key; algorithm RS256 needs an RSA key`;
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return 'is an RSA key shorter than 2048 bits';
  }
  return undefined;
}

type JwkFields = Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y' | 'n' | 'e'>;

/** The public members only, in a fixed order. */
function pick(jwk: JsonWebKey): JwkFields {
  const out: Record<string, string> = { kty: String(jwk.kty) };
  for (const name of ['crv', 'x', 'y', 'n', 'e'] as const) if (typeof jwk[name] === 'string') out[name] = jwk[name];
  return out as unknown as JwkFields;
}

/** RFC 7638: SHA-256 over the required members, lexicographically ordered, base64url. */
function thumbprint(jwk: JsonWebKey): string {
  const required: Record<string, readonly string[]> = { OKP: ['crv', 'kty', 'x'], EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'] };
  const members = required[String(jwk.kty)] ?? [];
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m as keyof JsonWebKey])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
