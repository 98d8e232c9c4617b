import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * docs/configuration.md, generated from the JSON Schemas in schema/ (the one source of
 * the field list): every field with its type, default, example and description.
 * `npm run docs:config` rewrites it; a test fails when it is out of date.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  required?: string[];
  definitions?: Record<string, Schema>;
  title?: string;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FILES = [
  ['keygate', 'keygate.yaml'],
  ['policy', 'policy.yaml'],
  ['keys', 'keys.yaml'],
] as const;

export function configReference(): string {
  const out = [
    '<!-- Generated from schema/*.schema.json by `npm run docs:config`; edit the schemas, not this file. -->',
    '## Configuration reference',
    '',
    'Every field of the three configuration files: its type, default (— when it has none),',
    'an example and what it does. `keygate check` validates all of this and more (references',
    'between files, dates, CIDR ranges, path patterns); the JSON Schemas in `schema/` let an',
    'editor check the shape as you type: the example configs start with a',
    '`# yaml-language-server: $schema=…` line (VS Code with the YAML extension, or any YAML',
    'language server). Durations are `500ms`, `2s`, `5m`, `12h`, `30d`; sizes `16KiB`, `10MiB`',
    'or a byte count; times RFC 3339 (`2027-01-01`, `2027-01-01T12:00:00Z`).',
  ];
  for (const [name, file] of FILES) {
    const schema = JSON.parse(readFileSync(join(REPO, `schema/${name}.schema.json`), 'utf8')) as Schema;
    out.push('', `### ${file}`, '', `${schema.description ?? ''} Schema: \`schema/${name}.schema.json\`.`, '');
    out.push('| field | type | default | example | description |', '|---|---|---|---|---|');
    for (const row of rows(schema, schema, '', new Set(schema.required))) out.push(row);
  }
  return `${out.join('\n')}\n`;
}

function rows(root: Schema, node: Schema, prefix: string, required: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [field, raw] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${field}`;
    const s = resolved(root, raw);
    const doc = { ...s, ...raw };
    const req = required.has(field) ? ' **(required)**' : '';
    out.push(
      `| \`${path}\` | ${typeText(root, raw)} | ${cell(doc.default)} | ${cell(raw.examples?.[0] ?? raw.default ?? s.examples?.[0])} | ${escape(doc.description ?? '')}${req} |`,
    );
    out.push(...nested(root, s, path));
  }
  return out;
}

/** The fields inside a field: an object's, a list's items', a map's values'. */
function nested(root: Schema, s: Schema, path: string): string[] {
  const object = [s, ...(s.anyOf ?? []).map((a) => resolved(root, a))].find((o) => o.properties);
  if (object) return rows(root, object, `${path}.`, new Set(object.required));
  const item = s.items ? resolved(root, s.items) : s.anyOf?.map((a) => resolved(root, a)).find((a) => a.items)?.items;
  if (item) {
    const itemObject = resolved(root, item);
    if (itemObject.properties) return rows(root, itemObject, `${path}[].`, new Set(itemObject.required));
  }
  if (typeof s.additionalProperties === 'object') {
    const value = resolved(root, s.additionalProperties);
    if (value.properties) return rows(root, value, `${path}.<name>.`, new Set(value.required));
    if (value.items) return nested(root, value, `${path}.<name>`);
  }
  return [];
}

function resolved(root: Schema, s: Schema): Schema {
  if (!s.$ref) return s;
  const name = s.$ref.replace('#/definitions/', '');
  return resolved(root, root.definitions![name]);
}

function typeText(root: Schema, raw: Schema): string {
  const s = resolved(root, raw);
  if (raw.$ref) {
    const name = raw.$ref.replace('#/definitions/', '');
    if (['duration', 'size', 'timestamp', 'listenAddress', 'cidr', 'rate'].includes(name)) return name;
  }
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.anyOf) return s.anyOf.map((a) => typeText(root, a)).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeText(root, s.items) : 'any'}`;
  if (s.type === 'object') return s.additionalProperties && typeof s.additionalProperties === 'object' ? 'map' : 'object';
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
}

function cell(value: unknown): string {
  return value === undefined ? '—' : `\`${escape(JSON.stringify(value))}\``;
}

function escape(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(join(REPO, 'docs/configuration.md'), configReference());
