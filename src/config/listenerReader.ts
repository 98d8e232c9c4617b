import { resolve } from 'node:path';
import { isMap } from 'yaml';
import { parseListenAddress } from '../reader/values.js';
import type { Field, YamlReader, YNode } from '../reader/yamlReader.js';
import type { ListenAddress, TlsSettings, TlsVersion } from './snapshot.js';

const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];
const TLS_FIELDS = ['cert', 'key', 'minVersion', 'clientCa', 'clientCert'];
const CLIENT_CERT_MODES = ['request', 'require'] as const;

/** A listener as keygate.yaml wrote it: its address and the other fields of its object form. */
export interface ListenerRead {
  readonly address: ListenAddress | undefined;
  /** The object form's fields beyond `address` and `tls` (e.g. listen.check's `dialect`); empty for the `host:port` form. */
  readonly fields: ReadonlyMap<string, Field>;
  /** false: written as `host:port` (no object form). */
  readonly objectForm: boolean;
}

/**
 * Any listener (`listen.proxy`, `.admin`, `.check`, and whatever port comes next): the
 * `host:port` form, or `{ address, tls: { cert, key, minVersion }, …extra }`. One reader
 * for every listener, so each one takes TLS the same way. `base`: keygate.yaml's directory.
 */
export function readListener(r: YamlReader, node: YNode, what: string, base: string, extra: readonly string[] = []): ListenerRead {
  if (!isMap(r.resolve(node))) return { address: addressOf(r, node, what), fields: new Map(), objectForm: false };
  const f = r.map(node, what, ['address', 'tls', ...extra], ['address']) ?? new Map<string, Field>();
  const address = addressOf(r, f.get('address')?.value, `${what}.address`);
  const tlsNode = f.get('tls')?.value;
  const tls = tlsNode == null ? undefined : readTls(r, tlsNode, `${what}.tls`, base);
  const fields = new Map([...f].filter(([name]) => name !== 'address' && name !== 'tls'));
  return { address: address && tls ? { ...address, tls } : address, fields, objectForm: true };
}

function addressOf(r: YamlReader, node: YNode, what: string): ListenAddress | undefined {
  if (node == null) return undefined;
  const text = r.string(node, what);
  if (text === undefined) return undefined;
  const parsed = parseListenAddress(text);
  if ('error' in parsed) return r.error(node, parsed.error);
  return { ...parsed, text };
}

function readTls(r: YamlReader, node: YNode, what: string, base: string): TlsSettings | undefined {
  const f = r.map(node, what, TLS_FIELDS, ['cert', 'key']);
  if (!f) return undefined;
  const file = (name: string): string | undefined => {
    const n = f.get(name)?.value;
    const text = r.string(n, `${what}.${name}`);
    if (text === '') return r.error(n, `${what}.${name} is empty`);
    return text === undefined ? undefined : resolve(base, text);
  };
  const cert = file('cert');
  const key = file('key');
  const clientCa = f.has('clientCa') ? file('clientCa') : undefined;
  const modeNode = f.get('clientCert')?.value;
  const modeText = modeNode == null ? undefined : r.string(modeNode, `${what}.clientCert`);
  const clientCert = CLIENT_CERT_MODES.find((m) => m === modeText);
  if (modeText !== undefined && !clientCert) r.error(modeNode, `${what}.clientCert must be request or require`);
  if (clientCert && !f.has('clientCa')) r.error(modeNode, `${what}.clientCert needs ${what}.clientCa: the CAs client certificates are checked against`);
  const versionNode = f.get('minVersion')?.value;
  const versionText = versionNode == null ? 'TLSv1.2' : r.string(versionNode, `${what}.minVersion`);
  const minVersion = TLS_VERSIONS.find((v) => v === versionText);
  if (!minVersion && versionText !== undefined) r.error(versionNode, `${what}.minVersion must be one of ${TLS_VERSIONS.join(', ')}`);
  if (cert === undefined || key === undefined || !minVersion) return undefined;
  return { cert, key, minVersion, ...(clientCa ? { clientCa, clientCert: clientCert ?? 'request' } : {}) };
}

/** How a listener's TLS setting reads in a restart-required comparison. */
export function describeListener(address: ListenAddress | undefined): string {
  if (!address) return 'off';
  const tls = address.tls;
  return tls
    ? `${address.host}:${address.port} tls ${tls.cert} ${tls.key} ${tls.minVersion} ${tls.clientCa ?? ''} ${tls.clientCert ?? ''}`
    : `${address.host}:${address.port}`;
}
