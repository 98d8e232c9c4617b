import { resolve } from 'node:path';
import { ASSERTION_ALGORITHMS } from '../assertion/signingKey.js';
import type { AssertionSettings } from './snapshot.js';
import { parseDuration } from '../reader/values.js';
import type { YamlReader, YNode } from '../reader/yamlReader.js';
import type { SourcePosition } from './mainFile.js';

/** A service's `assertion` as written; the key file is read (and checked) by the loader. */
export type AssertionDraft = Omit<AssertionSettings, 'keyPem'> & {
  /** Where `signingKey` is written, for errors found when the file is read. */
  readonly at: SourcePosition;
};

export const ASSERTION_DEFAULTS = { header: 'x-keygate-assertion', issuer: 'keygate', ttl: 60_000, algorithm: 'EdDSA' } as const;

const FIELDS = ['signingKey', 'algorithm', 'header', 'issuer', 'audience', 'ttl'];
const HEADER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers that already mean something on the way up: the assertion must not take their place. */
const TAKEN = new Set(['authorization', 'x-api-key', 'host', 'x-request-id', 'x-keygate-user', 'x-keygate-key-id', 'x-keygate-key-name']);
const TTL = { min: 2_000, max: 24 * 3_600_000 };

/**
 * `assertion: { signingKey: ./secrets/assertion.pem, algorithm?: EdDSA|ES256|RS256, header?,
 * issuer?, audience? (default: the service name), ttl? (default 60s) }`.
 */
export function readAssertion(r: YamlReader, node: YNode, base: string, service: string | undefined, tokenHeader: string | undefined): AssertionDraft | undefined {
  const f = r.map(node, 'assertion', FIELDS, ['signingKey']);
  if (!f) return undefined;
  const text = (name: string, fallback: string): string | undefined => (f.has(name) ? r.string(f.get(name)!.value, `assertion.${name}`) : fallback);
  const keyNode = f.get('signingKey')?.value;
  if (keyNode === undefined) return undefined; // r.map reported it
  const key = r.string(keyNode, 'assertion.signingKey');
  if (key === '') r.error(keyNode, 'assertion.signingKey is empty');
  const algorithmText = text('algorithm', ASSERTION_DEFAULTS.algorithm);
  const algorithm = ASSERTION_ALGORITHMS.find((a) => a === algorithmText);
  if (!algorithm && algorithmText !== undefined) r.error(f.get('algorithm')?.value, `assertion.algorithm must be one of ${ASSERTION_ALGORITHMS.join(', ')}`);
  const header = readHeader(r, f.get('header')?.value, tokenHeader);
  const issuer = text('issuer', ASSERTION_DEFAULTS.issuer);
  const audience = text('audience', service ?? '');
  if (issuer === '') r.error(f.get('issuer')?.value, 'assertion.issuer is empty');
  if (audience === '') r.error(f.get('audience')?.value, 'assertion.audience is empty');
  const ttl = readTtl(r, f.get('ttl')?.value);
  if (!key || !algorithm || !header || !issuer || !audience || ttl === undefined) return undefined;
  return { header, issuer, audience, ttl, algorithm, keyFile: resolve(base, key), at: { file: r.file, ...r.position(keyNode) } };
}

function readHeader(r: YamlReader, node: YNode, tokenHeader: string | undefined): string | undefined {
  if (node === undefined) return ASSERTION_DEFAULTS.header;
  const header = r.string(node, 'assertion.header')?.toLowerCase();
  if (header === undefined) return undefined;
  if (!HEADER.test(header)) return r.error(node, `assertion.header "${header}" is not a header name`);
  const canonical = header.replaceAll('_', '-');
  if (TAKEN.has(canonical) || canonical === tokenHeader?.replaceAll('_', '-')) return r.error(node, `assertion.header "${header}" is already a header keygate sets or reads`);
  return canonical;
}

function readTtl(r: YamlReader, node: YNode): number | undefined {
  if (node === undefined) return ASSERTION_DEFAULTS.ttl;
  const ttl = parseDuration(r.scalarText(node));
  if (typeof ttl !== 'number') return r.error(node, `assertion.ttl: ${ttl.error}`);
  if (ttl < TTL.min || ttl > TTL.max || ttl % 1000 !== 0) return r.error(node, 'assertion.ttl must be whole seconds between 2s and 24h');
  return ttl;
}
