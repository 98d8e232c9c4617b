import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configReference } from '../../helpers/configReference.js';
import { BAD_FILES } from './badFiles.js';
import { BASE, writeFixture } from './fixtures.js';

/**
 * One source of truth: the JSON Schemas in schema/ (what editors check as you type) and
 * the validator (`keygate check`) agree on every example config and every invalid
 * fixture the config tests use. A field added to the validator but not to the schema
 * fails here as soon as an example or fixture uses it.
 */

const REPO = resolve(import.meta.dirname, '../../..');
type Kind = 'keygate' | 'policy' | 'keys';

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
const validators = new Map<Kind, ValidateFunction>(
  (['keygate', 'policy', 'keys'] as const).map((k) => [k, ajv.compile(JSON.parse(readFileSync(join(REPO, `schema/${k}.schema.json`), 'utf8')) as object)]),
);

function kindOf(file: string): Kind | undefined {
  const name = basename(file);
  if (name === 'keygate.yaml') return 'keygate';
  if (name.startsWith('policy')) return 'policy';
  if (name.endsWith('keys.yaml')) return 'keys';
  return undefined;
}

/** The schema's verdict on one file: its YAML problems or schema errors, none when valid. */
function schemaErrors(kind: Kind, text: string): string[] {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return doc.errors.map((e) => e.message);
  const validate = validators.get(kind)!;
  return validate(doc.toJS()) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/** The mistakes a schema cannot see: references between files, file contents, calendar and CIDR arithmetic. */
const CHECK_ONLY = new Set([
  'an unknown role',
  'an unknown service in a role rule',
  'an unknown service in a key rule',
  'an unknown service in a guardrail',
  'a key id used in two keys files',
  'a key id used twice in one keys file',
  'a date that is not in the calendar',
  'a bad notBefore',
  'a bad IPv4 CIDR, second in its list',
  'a bad IPv6 CIDR',
  'a CIDR that is not an address',
  'a bad trustedProxies CIDR',
  'a wildcard inside a path segment',
  'a dot segment in a path pattern',
  'a bad method',
  'a bad method in a list',
  'an unknown hash algorithm',
  'a missing service token file',
  'an empty service token file',
  'an unset service token variable',
  'a pathPrefix with a wildcard',
  'a missing policy file',
  'a route host that is not a host name',
  'a credential header keygate owns',
]);

const EXAMPLES = [
  'config/keygate.yaml',
  'config/policy.yaml',
  'config/keys.yaml',
  'deploy/kubernetes/keygate/keygate.yaml',
  'deploy/kubernetes/keygate/policy.yaml',
  'deploy/kubernetes/keygate/keys.yaml',
];

describe('JSON Schema and validator agree', () => {
  it.each(EXAMPLES)('%s: valid for both, and names its schema for editors', (file) => {
    const text = readFileSync(join(REPO, file), 'utf8');
    const kind = kindOf(file)!;
    expect(schemaErrors(kind, text)).toEqual([]);
    const line = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    expect(line, 'the yaml-language-server line').not.toBeNull();
    expect(resolve(dirname(join(REPO, file)), line![1])).toBe(join(REPO, `schema/${kind}.schema.json`));
  });

  it('the example configs load in the validator (service tokens not read)', () => {
    for (const main of EXAMPLES.filter((f) => f.endsWith('keygate.yaml'))) {
      const result = loadConfig(join(REPO, main), { env: {}, serviceTokens: false });
      expect(result.ok, main).toBe(true);
    }
  });

  it('the test fixtures the invalid cases start from are valid for both', () => {
    for (const [name, text] of Object.entries(BASE)) {
      const kind = kindOf(name);
      if (kind) expect(schemaErrors(kind, text), name).toEqual([]);
    }
    const fixture = writeFixture();
    try {
      expect(loadConfig(fixture.mainFile, { env: {} }).ok).toBe(true);
    } finally {
      fixture.cleanup();
    }
  });

  it.each(BAD_FILES.map((c) => [c.desc, c] as const))('%s: the same verdict', (desc, c) => {
    const fixture = writeFixture(c.files);
    try {
      expect(loadConfig(fixture.mainFile, { env: c.env ?? {} }).ok).toBe(false);
    } finally {
      fixture.cleanup();
    }
    const files = { ...BASE, ...c.files };
    const errors = Object.entries(files).flatMap(([name, text]) => {
      const kind = kindOf(name);
      return kind && text !== null ? schemaErrors(kind, text) : [];
    });
    if (CHECK_ONLY.has(desc)) expect(errors, 'only keygate check can see this one').toEqual([]);
    else expect(errors.length, 'the schema must reject it too').toBeGreaterThan(0);
  });

  it('docs/configuration.md is generated from the schemas and up to date (npm run docs:config)', () => {
    expect(readFileSync(join(REPO, 'docs/configuration.md'), 'utf8')).toBe(configReference());
  });

  it('every field of every schema has a description, and every leaf field a default or an example', () => {
    const reference = configReference();
    const rows = reference.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(60);
    for (const row of rows) {
      const [field, type, def, example, description] = row.slice(2, -2).split(/ (?<!\\)\| /);
      expect(description.trim(), field).not.toBe('');
      if (!['object', 'map'].includes(type) && !type.startsWith('list of object')) expect(def !== '—' || example !== '—', field).toBe(true);
    }
  });

  it('every check-only case is one of the fixtures', () => {
    const known = new Set(BAD_FILES.map((c) => c.desc));
    expect([...CHECK_ONLY].filter((d) => !known.has(d))).toEqual([]);
  });
});
