import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ClientCertBinding } from '../config/snapshot.js';

/**
 * The client certificate of the connection a request came on, when the TLS listener
 * verified it against its `clientCa` (never an unverified one: anyone can make a
 * certificate with any subject). Read only for a key that is bound to one.
 */
export function verifiedClientCertificate(req: IncomingMessage): X509Certificate | undefined {
  const socket = req.socket as Partial<TLSSocket> | undefined;
  if (socket?.authorized !== true || typeof socket.getPeerX509Certificate !== 'function') return undefined;
  return socket.getPeerX509Certificate();
}

/** Why `cert` does not satisfy `binding` (for the log), or undefined when it does. */
export function bindingMismatch(binding: ClientCertBinding, cert: X509Certificate): string | undefined {
  if (binding.sha256 !== undefined) {
    return cert.fingerprint256 === binding.sha256
      ? undefined
      : `client certificate sha256 ${cert.fingerprint256} is not the key's ${binding.sha256}`;
  }
  if (binding.subject !== undefined) {
    const subject = new Set(cert.subject.split('\n'));
    const missing = binding.subject
      .split(',')
      .map((part) => part.trim())
      .filter((part) => !subject.has(part));
    return missing.length === 0 ? undefined : `client certificate subject lacks ${missing.join(', ')}`;
  }
  const names = (cert.subjectAltName ?? '').split(',').map((n) => n.trim());
  return names.includes(binding.san ?? '') ? undefined : `client certificate has no subjectAltName ${binding.san}`;
}

/** How a binding reads in `explain` and the log. */
export function describeBinding(binding: ClientCertBinding): string {
  if (binding.sha256 !== undefined) return `sha256 ${binding.sha256}`;
  if (binding.subject !== undefined) return `subject ${binding.subject}`;
  return `subjectAltName ${binding.san}`;
}
