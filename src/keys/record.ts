import type { ParsedHash } from '../auth/hash.js';
import type { VerifiableKey } from '../auth/verifier.js';
import type { ClientCertBinding } from '../config/snapshot.js';
import type { KeyPolicy } from '../policy/model.js';

/** One key as the keys files describe it: what decisions read, how it is verified, where it was written. */
export interface KeyRecord extends KeyPolicy, VerifiableKey {
  readonly hash: ParsedHash;
  /** The secret before `key rotate --grace`, accepted until `expires` (epoch ms). */
  readonly previous?: { readonly hash: ParsedHash; readonly expires: number };
  readonly legacy: boolean;
  readonly comment?: string;
  readonly created?: string;
  /** Kept in the snapshot's clientCertBindings, not in the key store. */
  readonly clientCert?: ClientCertBinding;
  /** When `key rotate` last replaced the secret, as written. */
  readonly rotated?: string;
  readonly file: string;
  /** Where the key's mapping starts in its keys file. */
  readonly line: number;
  readonly col: number;
}
