import { request, type Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { OutgoingHttpHeaders } from 'node:http';

export interface HttpsResult {
  readonly status: number;
  readonly body: string;
  /** SHA-256 of the certificate the server presented on this request's connection. */
  readonly peerSha256: string;
  readonly protocol: string | null;
  /** The request went on a kept-alive connection made by an earlier one. */
  readonly reused: boolean;
}

/**
 * One HTTPS request, verifying the server against `ca` (fresh connection unless `agent`).
 * `cert`/`key`: a client certificate to present.
 */
export function httpsSend(
  url: string,
  options: { ca: string | string[]; agent?: Agent; headers?: OutgoingHttpHeaders; method?: string; cert?: string; key?: string },
): Promise<HttpsResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        agent: options.agent ?? false,
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peerSha256 = socket.getPeerCertificate().fingerprint256;
        const protocol = socket.getProtocol();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            peerSha256,
            protocol,
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
