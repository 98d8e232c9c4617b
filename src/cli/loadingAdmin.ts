import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { ListenAddress } from '../config/snapshot.js';
import { readMainFile } from '../config/mainFile.js';
import type { Listener } from '../proxy/listener.js';
import { openListener } from '../tls/secureListener.js';
import type { ServedCertificate } from '../tls/servedCertificate.js';
import { YamlReader } from '../reader/yamlReader.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The admin port opened before the first load: a million keys take seconds to load,
 * and a liveness probe must not kill the pod meanwhile. Until `serve()` hands it the
 * real admin routes it answers `/healthz` 200 (alive) and everything else 503 (not
 * ready: `/readyz`, `/metrics`).
 */
export class LoadingAdmin {
  private constructor(
    readonly listener: Listener,
    /** The admin port's certificate when it has `tls` (the app keeps it current once started). */
    readonly certificate: ServedCertificate | undefined,
    private readonly route: { handler: Handler },
  ) {}

  /** Undefined when keygate.yaml does not even say where the admin port is (the load then reports why). */
  static async open(configFile: string, override: ListenAddress | undefined): Promise<LoadingAdmin | undefined> {
    const configured = adminAddressOf(configFile);
    // Tests move the port; the TLS settings stay the config's.
    const address = override ? { ...configured, ...override } : configured;
    if (!address) return undefined;
    const route: { handler: Handler } = { handler: loadingReply };
    const opened = await openListener('admin', address, { maxHeaderSize: 16 * 1024, onRequest: (req, res) => route.handler(req, res) });
    return new LoadingAdmin(opened.listener, opened.certificate, route);
  }

  serve(handler: Handler): Listener {
    this.route.handler = handler;
    return this.listener;
  }
}

function loadingReply(req: IncomingMessage, res: ServerResponse): void {
  const alive = (req.url ?? '').split('?')[0] === '/healthz';
  res.writeHead(alive ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(alive ? 'ok' : 'not ready: loading the configuration');
}

function adminAddressOf(configFile: string): ListenAddress | undefined {
  try {
    const file = resolve(configFile);
    const r = new YamlReader(file, readFileSync(file, 'utf8'));
    const main = r.root === undefined ? undefined : readMainFile(r);
    return r.issues.length === 0 ? main?.listen.admin : undefined;
  } catch {
    return undefined;
  }
}
