import { parseHash } from '../auth/hash.js';
import { isKeyId } from '../auth/keyFormat.js';
import { compileCidrs, parseCidr } from '../policy/cidr.js';
import { RuleMatcher } from '../policy/matcher.js';
import type { KeyScope, KeyShadowScope } from '../policy/model.js';
import type { CompiledRule } from '../policy/rules.js';
import { readRules, type RuleNames } from '../reader/ruleReader.js';
import { controlCharProblem, readTimestamp } from '../reader/values.js';
import type { ClientCertBinding } from '../config/snapshot.js';
import type { KeyRecord } from './record.js';
import type { Field, NodeReader } from '../reader/yamlReader.js';

export const KEY_FIELDS = [
  'id',
  'user',
  'name',
  'hash',
  'previousHash',
  'previousHashExpires',
  'scope',
  'allow',
  'deny',
  'shadow',
  'sourceIPs',
  'expires',
  'notBefore',
  'disabled',
  'comment',
  'created',
  'rotated',
  'legacy',
  'rateLimit',
  'clientCert',
];
const PLAINTEXT_FIELDS = ['secret', 'key', 'token', 'password', 'plaintext'];
/** Read once per key: a plaintext field is reported by name, not as an unknown field. */
const ENTRY_FIELDS = [...KEY_FIELDS, ...PLAINTEXT_FIELDS];
const REQUIRED_FIELDS = ['id', 'user', 'hash'];
/** Most keys have no deny rules; a RuleMatcher never changes, so they can all share one. */
const NO_RULES = new RuleMatcher([]);

/** Reads one keys file. Users are checked by the caller: an unknown user is a warning, not an error. */
export function readKeysFile<N>(r: NodeReader<N>, names: RuleNames): KeyRecord[] {
  const f = r.map(r.root ?? (null as N), 'keys file', ['keys']);
  if (!f) return [];
  const out: KeyRecord[] = [];
  for (const node of r.list(f.get('keys')?.value, 'keys')) {
    const key = readKeyEntry(r, node, names);
    if (key) out.push(key);
  }
  return out;
}

/** One entry of a keys file's `keys:` list. */
export function readKeyEntry<N>(r: NodeReader<N>, node: N, names: RuleNames): KeyRecord | undefined {
  rejectPlaintext(r, node);
  return readKey(r, node, names);
}

function rejectPlaintext<N>(r: NodeReader<N>, node: N): void {
  for (const { name, key } of r.keysOf(node)) {
    if (PLAINTEXT_FIELDS.includes(name)) {
      r.error(key, `plaintext secrets are not allowed in a keys file ("${name}"); use "keygate key import" to hash them`);
    }
  }
}

function readKey<N>(r: NodeReader<N>, node: N, names: RuleNames): KeyRecord | undefined {
  const fields = r.map(node, 'a key', ENTRY_FIELDS, REQUIRED_FIELDS);
  if (!fields) return undefined;
  const f = (name: string): Field<N, N> | undefined => fields.get(name);
  const str = (name: string): string | undefined => (f(name) ? r.string(f(name)!.value, name) : undefined);
  const flag = (name: string): boolean => (f(name) ? (r.boolean(f(name)!.value, name) ?? false) : false);
  const time = (name: string): number | undefined => (f(name) ? readTimestamp(r, f(name)!.value, name) : undefined);
  const id = str('id');
  if (id !== undefined && !isKeyId(id)) r.error(f('id')!.value, `key id "${id}" must be 12 letters or digits`);
  const owner = `key ${id ?? '?'}`;
  const hash = readHash(r, f('hash')?.value);
  const previous = readPrevious(r, f('previousHash'), f('previousHashExpires'), node);
  const scope = readScope(r, f('scope')?.value);
  const sourceIPs = readSourceIps(r, f('sourceIPs')?.value);
  const allow = readRules(r, f('allow')?.value, `${owner} allow`, names);
  const deny = readRules(r, f('deny')?.value, `${owner} deny`, names);
  const shadow = readShadowScope(r, f('shadow')?.value, owner, names);
  const user = str('user');
  const name = str('name');
  for (const [field, text] of [
    ['user', user],
    ['name', name],
  ] as const) {
    const problem = text === undefined ? undefined : controlCharProblem(`${owner} ${field}`, text);
    if (problem) r.error(f(field)!.value, problem);
  }
  const expires = time('expires');
  const notBefore = time('notBefore');
  const comment = str('comment');
  const created = str('created');
  const rotated = str('rotated');
  if (rotated !== undefined) time('rotated');
  const issued = issuedAt(rotated ?? created);
  const rateLimit = f('rateLimit') ? r.strings(f('rateLimit')!.value, 'rateLimit') : undefined;
  const clientCert = f('clientCert') ? readClientCert(r, f('clientCert')!.value) : undefined;
  if (id === undefined || user === undefined || !hash || !scope || sourceIPs === false || clientCert === false || shadow === false)
    return undefined;
  const pos = r.position(node);
  return Object.freeze({
    id,
    user: r.interner.string(user),
    name: name ?? '',
    hash,
    ...(previous ? { previous } : {}),
    scope,
    allow: matcher(allow),
    deny: matcher(deny),
    ...(shadow ? { shadow } : {}),
    sourceIPs,
    disabled: flag('disabled'),
    legacy: flag('legacy'),
    ...(expires !== undefined ? { expires } : {}),
    ...(notBefore !== undefined ? { notBefore } : {}),
    ...(comment !== undefined ? { comment } : {}),
    ...(created !== undefined ? { created } : {}),
    ...(clientCert !== undefined ? { clientCert } : {}),
    ...(rotated !== undefined ? { rotated } : {}),
    ...(issued !== undefined ? { issued } : {}),
    ...(rateLimit !== undefined ? { rateLimit: Object.freeze(rateLimit.map((n) => r.interner.string(n))) } : {}),
    file: r.file,
    line: pos.line,
    col: pos.col,
  });
}

const SHA256 = /^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/;

/** `clientCert: { sha256 | subject | san }`, exactly one; false: invalid (already reported). */
function readClientCert<N>(r: NodeReader<N>, node: N): ClientCertBinding | false {
  const f = r.map(node, 'clientCert', ['sha256', 'subject', 'san']);
  if (!f) return false;
  if (f.size !== 1) return r.error(node, 'clientCert takes exactly one of sha256, subject, san') ?? false;
  const [[name, field]] = [...f];
  const text = r.string(field.value, `clientCert.${name}`);
  if (text === undefined || text.trim() === '') return r.error(field.value, `clientCert.${name} is empty`) ?? false;
  if (name === 'sha256') {
    if (!SHA256.test(text.trim()))
      return r.error(field.value, 'clientCert.sha256 must be 32 bytes of hex (e.g. `openssl x509 -noout -fingerprint -sha256`)') ?? false;
    const hex = text.trim().replaceAll(':', '').toUpperCase();
    return { sha256: hex.match(/../g)!.join(':') };
  }
  if (name === 'san' && !/^[A-Za-z ]+:\S/.test(text.trim()))
    return r.error(field.value, 'clientCert.san must name its type, e.g. DNS:client.example or URI:spiffe://…') ?? false;
  return name === 'subject' ? { subject: text.trim() } : { san: text.trim() };
}

/** `created` is free text for old files; a date that does not parse only means the key's age is unknown. */
function issuedAt(text: string | undefined): number | undefined {
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `shadow: { allow, deny }`: undefined when absent, false when invalid (already reported). */
function readShadowScope<N>(r: NodeReader<N>, node: N | undefined, owner: string, names: RuleNames): KeyShadowScope | undefined | false {
  if (node === undefined) return undefined;
  const f = r.map(node, `${owner} shadow`, ['allow', 'deny']);
  if (!f) return false;
  if (f.size === 0) return r.error(node, `${owner} shadow names no candidate scope: give it "allow", "deny" or both`) ?? false;
  const rules = (name: 'allow' | 'deny'): RuleMatcher | undefined =>
    f.has(name) ? matcher(readRules(r, f.get(name)!.value, `${owner} shadow ${name}`, names)) : undefined;
  const allow = rules('allow');
  const deny = rules('deny');
  return Object.freeze({ ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) });
}

function matcher(rules: CompiledRule[]): RuleMatcher {
  return rules.length === 0 ? NO_RULES : new RuleMatcher(rules);
}

function readHash<N>(r: NodeReader<N>, node: N | undefined): KeyRecord['hash'] | undefined {
  const text = r.string(node, 'hash');
  if (text === undefined) return undefined;
  const parsed = parseHash(text);
  return 'error' in parsed ? r.error(node, parsed.error) : parsed;
}

/**
 * `key rotate --grace`: the secret before the rotation, still accepted until
 * `previousHashExpires`. Both fields or neither; only a generated key's (sha256) hash.
 */
function readPrevious<N>(
  r: NodeReader<N>,
  hashField: Field<N, N> | undefined,
  expiresField: Field<N, N> | undefined,
  key: N,
): KeyRecord['previous'] {
  if (!hashField && !expiresField) return undefined;
  if (!hashField || !expiresField) return r.error(key, 'previousHash and previousHashExpires go together (key rotate --grace writes both)');
  const text = r.string(hashField.value, 'previousHash');
  const parsed = text === undefined ? undefined : parseHash(text);
  const expires = readTimestamp(r, expiresField.value, 'previousHashExpires');
  if (parsed === undefined || expires === undefined) return undefined;
  if ('error' in parsed) return r.error(hashField.value, `previousHash: ${parsed.error}`);
  if (parsed.algorithm !== 'sha256') return r.error(hashField.value, 'previousHash must be the sha256 hash of a generated key');
  return Object.freeze({ hash: parsed, expires });
}

function readScope<N>(r: NodeReader<N>, node: N | undefined): KeyScope | undefined {
  if (node === undefined) return 'restricted';
  const scope = r.string(node, 'scope');
  if (scope === 'restricted' || scope === 'inherit') return scope;
  return r.error(node, `scope${scope === undefined ? '' : ` "${scope}"`} must be "restricted" or "inherit"`);
}

/** null: no filter; false: invalid (already reported). */
function readSourceIps<N>(r: NodeReader<N>, node: N | undefined): KeyRecord['sourceIPs'] | false {
  if (node === undefined) return null;
  const list = r.stringNodes(node, 'sourceIPs');
  if (!list) return false;
  let ok = true;
  for (const item of list) {
    const parsed = parseCidr(item.value);
    if ('error' in parsed) ok = r.error(item.node, `sourceIPs: ${parsed.error}`) ?? false;
  }
  return ok ? compileCidrs(list.map((item) => item.value)) : false;
}
