import type { ListenAddress } from '../config/snapshot.js';
import { Listener, type ListenerOptions } from '../proxy/listener.js';
import { ServedCertificate } from './servedCertificate.js';

/** A listener, and the certificate it serves when its address has `tls`. */
export interface OpenedListener {
  readonly listener: Listener;
  readonly certificate: ServedCertificate | undefined;
}

/**
 * Opens a listener on `address`: HTTPS with its certificate when it has `tls` (a pair that
 * cannot be served stops the start, naming the file and the reason), plain HTTP otherwise.
 * The caller starts the certificate's following (`certificate.serve`) once it has a logger.
 */
export async function openListener(
  name: string,
  address: ListenAddress,
  options: Omit<ListenerOptions, 'host' | 'port' | 'tls' | 'clientCert'>,
): Promise<OpenedListener> {
  const certificate = address.tls ? await ServedCertificate.load(name, address.tls) : undefined;
  const listener = await Listener.start({
    ...options,
    host: address.host,
    port: address.port,
    ...(certificate ? { tls: certificate.options } : {}),
    ...(address.tls?.clientCert ? { clientCert: address.tls.clientCert } : {}),
  });
  return { listener, certificate };
}
