import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { fingerprintBytes, type Fingerprint } from '../config/fingerprint.js';
import { openRegularFile } from '../config/regularFile.js';
import type { TlsSettings } from '../config/snapshot.js';

/** Certificate and key files are small; anything larger is not one (and is never read whole). */
const MAX_PEM_BYTES = 1024 * 1024;

/** A certificate and its key, read and checked together: what a listener serves. */
export interface CertificatePair {
  /** What `setSecureContext` and the server's TLS options take. */
  readonly options: SecureContextOptions;
  /** The leaf certificate's notAfter, in ms since the epoch. */
  readonly expiresAt: number;
  /** SHA-256 of the leaf (colon-separated hex, as openssl and Node print it). */
  readonly sha256: string;
  /** What was read from each file, for the watcher to compare against. */
  readonly sources: ReadonlyMap<string, Fingerprint>;
}

export type PairRead = { readonly ok: true; readonly pair: CertificatePair } | { readonly ok: false; readonly problem: PairProblem };

/** Why a pair cannot be served: which file, and the reason (OpenSSL's where it comes from OpenSSL). */
export interface PairProblem {
  readonly file: string;
  readonly reason: string;
  /** Fingerprints of what was read, so an unchanged broken pair is not reported again. */
  readonly sources: ReadonlyMap<string, Fingerprint>;
}

/**
 * Reads `settings.cert` and `settings.key` and checks them the way the TLS stack will:
 * each parses, and the key belongs to the certificate. Never throws; a problem names the
 * file it is in (a mismatch is the key's: the certificate is what clients check).
 */
export async function readCertificatePair(settings: TlsSettings): Promise<PairRead> {
  const sources = new Map<string, Fingerprint>();
  const problem = (file: string, reason: string): PairRead => ({ ok: false, problem: { file, reason, sources } });
  const cert = await readPem(settings.cert, sources);
  if (typeof cert === 'string') return problem(settings.cert, cert);
  const key = await readPem(settings.key, sources);
  if (typeof key === 'string') return problem(settings.key, key);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (e) {
    return problem(settings.cert, `not a PEM certificate: ${opensslReason(e)}`);
  }
  try {
    createPrivateKey(key);
  } catch (e) {
    return problem(settings.key, `not a PEM private key: ${opensslReason(e)}`);
  }
  let ca: Buffer | undefined;
  if (settings.clientCa !== undefined) {
    const bundle = await readPem(settings.clientCa, sources);
    if (typeof bundle === 'string') return problem(settings.clientCa, bundle);
    try {
      new X509Certificate(bundle);
    } catch (e) {
      return problem(settings.clientCa, `not a PEM CA bundle: ${opensslReason(e)}`);
    }
    ca = bundle;
  }
  const options: SecureContextOptions = { cert, key, minVersion: settings.minVersion, ...(ca ? { ca } : {}) };
  try {
    createSecureContext(options); // the TLS stack's own check: the key must match the certificate
  } catch (e) {
    return problem(settings.key, `does not go with ${settings.cert}: ${opensslReason(e)}`);
  }
  const expiresAt = Date.parse(leaf.validTo);
  return { ok: true, pair: { options, expiresAt, sha256: leaf.fingerprint256, sources } };
}

/** A file's bytes (and its fingerprint into `sources`), or why it cannot be read. */
async function readPem(file: string, sources: Map<string, Fingerprint>): Promise<Buffer | string> {
  let handle;
  try {
    handle = await openRegularFile(file);
  } catch (e) {
    sources.set(file, `error:${(e as NodeJS.ErrnoException).code ?? 'EIO'}`);
    return `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_PEM_BYTES) {
      sources.set(file, `error:EFBIG`);
      return `larger than ${MAX_PEM_BYTES} bytes: not a PEM file`;
    }
    const bytes = await handle.readFile();
    sources.set(file, fingerprintBytes(bytes));
    return bytes;
  } finally {
    await handle.close();
  }
}

/** OpenSSL's words without its error-code prefix (`error:05800074:x509 certificate routines::`). */
function opensslReason(e: unknown): string {
  const message = (e as Error).message ?? String(e);
  return message.replace(/^error:[0-9A-Fa-f]+:/, '').replace(/^[^:]*::/, '') || message;
}
