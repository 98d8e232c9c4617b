import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { hashFast } from '../../../src/auth/hash.js';
import { readKeysFile } from '../../../src/keys/reader.js';
import { loadConfig } from '../../../src/config/load.js';
import { readKeysByLine, readKeysFast } from '../../../src/keys/fastReader.js';
import type { KeyRecord } from '../../../src/config/snapshot.js';
import type { CompiledRule } from '../../../src/policy/rules.js';
import { YamlReader } from '../../../src/reader/yamlReader.js';
import { authorize, type Decision } from '../../../src/policy/decide.js';
import { keyState } from '../../../src/policy/model.js';
import { readingsOf } from '../../../src/policy/pathReadings.js';
import { writeFixture, type Fixture } from '../config/fixtures.js';
import { FIELD_VARIANTS, id, keysText } from './keysCorpus.js';

/**
 * Keys files are read entry by entry from their lines (lineReader.ts) when they are in
 * the shape keygate writes, else with js-yaml plus a line scan when they are valid,
 * and with the positioned `yaml` parser when anything is wrong. Both must give the same
 * keys, and errors must still name the exact file:line:col.
 */

const SERVICES = { services: new Set(['compute']), extraMethods: new Set<string>() };
let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

/**
 * Comparable: a CidrSet holds a closure, a matcher and a hash keep their rules and text in
 * accessors, and a stored key reads its cold fields in accessors; every field by name.
 */
const plain = (keys: readonly KeyRecord[]): unknown[] =>
  keys.map((k) => ({
    id: k.id,
    user: k.user,
    name: k.name,
    scope: k.scope,
    disabled: k.disabled,
    legacy: k.legacy,
    expires: k.expires,
    notBefore: k.notBefore,
    issued: k.issued,
    previous: k.previous ? { hash: k.previous.hash.text, expires: k.previous.expires } : undefined,
    comment: k.comment,
    created: k.created,
    rotated: k.rotated,
    file: k.file,
    line: k.line,
    col: k.col,
    sourceIPs: k.sourceIPs?.text ?? null,
    allow: k.allow.rules.map(plainRule),
    deny: k.deny.rules.map(plainRule),
    shadow: k.shadow ? { allow: k.shadow.allow?.rules.map(plainRule), deny: k.shadow.deny?.rules.map(plainRule) } : null,
    hash: k.hash.text,
  }));

/** A rule's fields with its origin, which a store's rule makes only when read (a getter, not an own field). */
const plainRule = (r: CompiledRule): unknown => ({ ...r, origin: { ...r.origin } });
const plainDecision = (d: Decision): unknown => {
  const rules = d.allow
    ? { userRule: plainRule(d.userRule), keyRule: d.keyRule && plainRule(d.keyRule) }
    : { rule: d.rule && plainRule(d.rule) };
  return { ...d, ...rules };
};

/** 2,000 keys read by the positioned parser, once for the tests that compare with it. */
let positioned2000: { text: string; keys: KeyRecord[] } | undefined;
function positioned(): { text: string; keys: KeyRecord[] } {
  if (positioned2000) return positioned2000;
  const text = keysText(2000);
  const slow = new YamlReader('keys.yaml', text);
  const keys = readKeysFile(slow, SERVICES);
  expect(slow.issues).toEqual([]);
  return (positioned2000 = { text, keys });
}

describe('keys files on the fast path', () => {
  it('a valid file of 2,000 keys gives exactly the keys of the positioned path', () => {
    const { text, keys: expected } = positioned();
    const fast = readKeysFast('keys.yaml', text, SERVICES);
    expect(fast).toBeDefined();
    expect(fast!.map((k) => `${k.id}@${k.line}:${k.col}`)).toEqual(expected.map((k) => `${k.id}@${k.line}:${k.col}`));
    expect(fast!.map((k) => [k.allow.rules, k.deny.rules])).toEqual(expected.map((k) => [k.allow.rules, k.deny.rules]));
    expect(plain(fast!)).toEqual(plain(expected));
  });

  it('the line reader reads the same file to exactly the same keys, positions included', () => {
    const { text, keys: expected } = positioned();
    const byLine = readKeysByLine('keys.yaml', text, SERVICES);
    expect(byLine).toBeDefined();
    expect(byLine!.map((k) => `${k.id}@${k.line}:${k.col}`)).toEqual(expected.map((k) => `${k.id}@${k.line}:${k.col}`));
    expect(byLine!.map((k) => [k.allow.rules, k.deny.rules])).toEqual(expected.map((k) => [k.allow.rules, k.deny.rules]));
    expect(plain(byLine!)).toEqual(plain(expected));
  });

  /** Each variant is either left to a full parser (undefined) or read exactly as the positioned parser reads it. */
  it.each(FIELD_VARIANTS.map((v) => [v]))('%s: read exactly, or left to the full parser', (field) => {
    const text =
      `# c\nkeys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    hash: "H"\n    ${field.replaceAll('\\n', '\n').replaceAll('\\t', '\t')}\n  - id: BBBBBBBBBBBB\n    user: joe\n    hash: "H"\n`.replaceAll(
        '"H"',
        `"${hashFast('x')}"`,
      );
    const byLine = readKeysByLine('keys.yaml', text, SERVICES);
    if (byLine === undefined) return;
    const slow = new YamlReader('keys.yaml', text);
    const expected = readKeysFile(slow, SERVICES);
    expect(slow.issues).toEqual([]);
    expect(byLine.map((k) => `${k.id}@${k.line}:${k.col}`)).toEqual(expected.map((k) => `${k.id}@${k.line}:${k.col}`));
    expect(plain(byLine)).toEqual(plain(expected));
  });

  it('the line reader reads what keygate writes and leaves other shapes alone', () => {
    const written = keysText(5);
    expect(readKeysByLine('keys.yaml', written, SERVICES)).toHaveLength(5);
    expect(readKeysByLine('keys.yaml', 'keys: []\n', SERVICES)).toEqual([]);
    for (const other of [
      written.replaceAll('\n', '\r\n'),
      `---\n${written}`,
      `${written}other: 1\n`,
      written.replace('keys:', 'keys: # the keys\n  # more'),
      'keys:\n  - { id: AAAAAAAAAAAA, user: joe }\n',
    ]) {
      const read = readKeysByLine('keys.yaml', other, SERVICES);
      if (read) expect(plain(read)).toEqual(plain(readKeysFile(new YamlReader('keys.yaml', other), SERVICES)));
    }
    expect(readKeysByLine('keys.yaml', written.replaceAll('\n', '\r\n'), SERVICES)).toBeUndefined();
  });

  it('loadConfig takes the fast path and decides as the positioned path does', () => {
    fixture = writeFixture({ 'keys.yaml': keysText(2000) });
    const loaded = loadConfig(fixture.mainFile);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors.slice(0, 3)));
    const text = readFileSync(fixture.path('keys.yaml'), 'utf8');
    const expected = readKeysFile(new YamlReader(fixture.path('keys.yaml'), text), SERVICES);
    const snapshot = loaded.snapshot;
    expect(plain(snapshot.keys.list())).toEqual(plain(expected));
    const requests = [
      { method: 'GET', path: ['v2', 'p', 'servers', 'x'] },
      { method: 'DELETE', path: ['v2', 'p', 'admin', 'x'] },
      { method: 'POST', path: ['v3', 'a'] },
      { method: 'GET', path: ['secret', 'a'] },
    ];
    const now = Date.parse('2027-01-01T00:00:00Z');
    // The scrape-time count (no record per key) reads the same states and creation times as the records.
    const later = Date.parse('2031-01-01T00:00:00Z'); // past the keys that expire in 2030
    const seen = new Set<string>();
    for (const at of [now, later]) {
      const states: string[] = [];
      const createdBySlot: number[] = [];
      snapshot.keys.eachKeyState(snapshot, at, (slot, state, created) => {
        states[slot] = state;
        createdBySlot[slot] = created;
      });
      expect(states).toEqual(snapshot.keys.list().map((k) => keyState(snapshot, k, at)));
      expect(createdBySlot).toEqual(snapshot.keys.list().map((k) => (k.created === undefined ? NaN : Date.parse(k.created))));
      for (const state of states) seen.add(state);
    }
    expect(seen.size).toBeGreaterThan(2);
    for (const [i, k] of snapshot.keys.list().entries()) {
      for (const r of requests) {
        const req = {
          region: 'eu-west-1',
          service: 'compute',
          method: r.method,
          segments: r.path,
          clientIp: '10.1.2.3',
          now,
          readings: readingsOf(r.path),
        };
        const got = authorize(snapshot, k, req);
        const want = authorize(snapshot, expected[i], req);
        expect(plainDecision(got)).toEqual(plainDecision(want));
      }
    }
  });
});

describe('keys files that fall back to the positioned path', () => {
  it('a file the line reader gives up on half-way loads exactly as the positioned path reads it', () => {
    const lines = keysText(2000).split('\n');
    const at = lines.findIndex((l) => l.includes(id(1500))) + 1;
    lines.splice(at, 0, '    name: !!str tagged'); // a tag: not the line reader's shape, valid YAML all the same
    const text = lines.join('\n');
    expect(readKeysByLine('keys.yaml', text, SERVICES)).toBeUndefined();
    fixture = writeFixture({ 'keys.yaml': text });
    const loaded = loadConfig(fixture.mainFile);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors.slice(0, 3)));
    const expected = readKeysFile(new YamlReader(fixture.path('keys.yaml'), text), SERVICES);
    expect(expected[1500].name).toBe('tagged');
    expect(plain(loaded.snapshot.keys.list())).toEqual(plain(expected));
  });

  it('an invalid key deep in the file is reported at its exact line and column', () => {
    const lines = keysText(2000).split('\n');
    const at = lines.findIndex((l) => l.includes(id(1502))) + 4; // key 1502 (layout 2): its first allow rule
    expect(lines[at]).toBe('    - { service: compute, path: "/v2/{project}/servers/*" }');
    lines[at] = '    - { service: compute, path: "v2/{project}/servers/*" }';
    const text = lines.join('\n');
    expect(readKeysFast('keys.yaml', text, SERVICES)).toBeUndefined();
    fixture = writeFixture({ 'keys.yaml': text });
    const loaded = loadConfig(fixture.mainFile);
    expect(loaded.ok).toBe(false);
    const errors = loaded.ok ? [] : loaded.errors;
    expect(errors.map((e) => [e.file, e.line, e.col])).toEqual([[fixture.path('keys.yaml'), at + 1, 33]]);
    expect(errors[0].message).toMatch(/must start with "\/"/);
  });

  it('a syntax error js-yaml refuses is reported where the yaml package places it, in its entry only', () => {
    const lines = keysText(300).split('\n');
    const entry = lines.findIndex((l) => l.includes(id(250)));
    const at = lines.findIndex((l, i) => i > entry && l.startsWith('      - { service: compute, method: read, path: "/v2/**" }'));
    lines[at] = '      - { service: compute, method: read, path: "/v2/**"';
    const text = lines.join('\n');
    const positioned = new YamlReader('keys.yaml', text).issues;
    // The whole-file parse carries the open flow mapping on into the next entry's lines; each entry read alone does not.
    const nextEntry = lines.findIndex((l) => l.includes(id(251))) + 1;
    const inEntry = positioned.filter((e) => e.line < nextEntry);
    expect(inEntry.length).toBeGreaterThan(0);
    expect(positioned.length).toBeGreaterThan(inEntry.length);
    fixture = writeFixture({ 'keys.yaml': text });
    const loaded = loadConfig(fixture.mainFile);
    expect(loaded.ok).toBe(false);
    const said = (loaded.ok ? [] : loaded.errors).map((e) => `${e.line}:${e.col} ${e.message}`);
    // The same first error; after it, what the parser says depends on what follows the entry, which it does not see.
    expect(said[0]).toBe(`${inEntry[0].line}:${inEntry[0].col} ${inEntry[0].message}`);
    expect(inEntry.map((e) => `${e.line}:${e.col} ${e.message}`)).toEqual(expect.arrayContaining(said));
    expect(inEntry[0].line).toBeGreaterThanOrEqual(at + 1);
  });

  it('a duplicate key id (two files) names both positions', () => {
    const text = keysText(10);
    const dup = text.replace(id(7), id(2));
    expect(readKeysFast('keys.yaml', dup, SERVICES)).toBeDefined(); // valid per file: the fast path serves it
    fixture = writeFixture({ 'keys.yaml': dup });
    const loaded = loadConfig(fixture.mainFile);
    const errors = loaded.ok ? [] : loaded.errors;
    const line = (i: number): number => dup.split('\n').findIndex((l) => l.includes(`id: ${i % 3 === 0 ? `"${id(2)}"` : id(2)}`)) + 1;
    expect(line(2)).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain(`duplicate key id "${id(2)}" (first at ${fixture.path('keys.yaml')}:${line(2)}:5)`);
  });

  it.each([
    ['flow-style keys', 'keys:\n  - { id: AAAAAAAAAAAA, user: joe, hash: "H", allow: [{ service: compute, path: "/x" }] }\n'],
    ['an inline rule list', 'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    hash: "H"\n    allow: [{ service: compute, path: "/x" }]\n'],
    [
      'a rule shared through an alias',
      'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    hash: "H"\n    allow:\n      - &r { service: compute, path: "/x" }\n  - id: BBBBBBBBBBBB\n    user: joe\n    hash: "H"\n    allow:\n      - *r\n',
    ],
    ['a duplicate field', 'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    user: ann\n    hash: "H"\n'],
    [
      'a number where a string is expected (parsers differ on 0b101)',
      'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    name: 0b101\n    hash: "H"\n',
    ],
    ['an unknown field', 'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    colour: red\n    hash: "H"\n'],
  ])('%s: not on the fast path', (_desc, text) => {
    expect(readKeysFast('keys.yaml', text.replaceAll('"H"', `"${hashFast('x')}"`), SERVICES)).toBeUndefined();
  });
});
