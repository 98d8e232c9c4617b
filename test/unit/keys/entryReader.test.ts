import { afterEach, describe, expect, it } from 'vitest';
import { hashFast } from '../../../src/auth/hash.js';
import { loadConfig } from '../../../src/config/load.js';
import { FOR_JS_YAML, readKeysEntryByEntry } from '../../../src/keys/entryReader.js';
import { readKeysFile } from '../../../src/keys/reader.js';
import { YamlReader } from '../../../src/reader/yamlReader.js';
import { writeFixture, type Fixture } from '../config/fixtures.js';
import { id, keysText } from './keysCorpus.js';

/**
 * A keys file the fast readers refuse is read entry by entry: each wrong entry is told
 * as the whole-file positioned parse tells it, and the right ones are read, without
 * parsing the whole file with the positioned parser.
 */

const SERVICES = { services: new Set(['compute']), extraMethods: new Set<string>() };
const show = (e: { line: number; col: number; message: string }): string => `${e.line}:${e.col} ${e.message}`;
let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

/** The whole file through the positioned parser, as every wrong file was read before. */
function wholeFile(text: string): { keys: string[]; errors: string[] } {
  const r = new YamlReader('keys.yaml', text);
  const keys = r.root === undefined ? [] : readKeysFile(r, SERVICES);
  return {
    keys: keys.map((k) => `${k.id} ${k.line}:${k.col} ${k.allow.rules.map((rule) => rule.path.text).join(',')}`),
    errors: r.issues.map(show),
  };
}

function entryByEntry(text: string): { keys: string[]; errors: string[] } | undefined {
  const read = readKeysEntryByEntry('keys.yaml', text, SERVICES);
  if (read === undefined || read === FOR_JS_YAML) return undefined;
  return {
    keys: read.keys.map((k) => `${k.id} ${k.line}:${k.col} ${k.allow.rules.map((rule) => rule.path.text).join(',')}`),
    errors: read.errors.map(show),
  };
}

/** An entry with a tag, which the line reader leaves to the positioned parser. */
const tagged = (i: number): string => `  - id: !!str ${id(i)}\n    user: joe\n    hash: "${hashFast(`s${i}`)}"\n    scope: inherit\n`;

/** `text` with the first line that contains `from` after entry `i`'s id line changed to `to`. */
function wrong(text: string, i: number, from: string, to: string): string {
  const lines = text.split('\n');
  const entry = lines.findIndex((l) => l.includes(id(i)));
  const at = lines.findIndex((l, n) => n > entry && l.includes(from));
  lines[at] = lines[at].replace(from, to);
  return lines.join('\n');
}

describe('reading a keys file entry by entry', () => {
  it('tells every wrong entry as the whole-file parse does, and reads the right ones', () => {
    let text = keysText(600);
    text = wrong(text, 40, 'user: joe', 'user: joe\n    frobnicate: 1');
    text = wrong(text, 299, 'path: "/v2/**"', 'path: "v2/**"');
    text = wrong(text, 301, 'scope: inherit', 'scope: everything');
    text = wrong(text, 590, 'user: joe', 'user: joe\n    secret: hunter2');
    const read = entryByEntry(text)!;
    const whole = wholeFile(text);
    expect(whole.errors).toHaveLength(4);
    expect(read.errors).toEqual(whole.errors);
    expect(read.keys).toEqual(whole.keys);
    // And the load says the same.
    fixture = writeFixture({ 'keys.yaml': text });
    const loaded = loadConfig(fixture.mainFile);
    expect((loaded.ok ? [] : loaded.errors).map(show)).toEqual(whole.errors);
  });

  it('reads a valid file of entries the line reader does not read, with their positions', () => {
    const text = `keys:\n${keysText(30).split('\n').slice(2).join('\n')}${Array.from({ length: 20 }, (_, i) => tagged(100 + i)).join('')}`;
    const read = entryByEntry(text)!;
    expect(read.errors).toEqual([]);
    expect(read.keys).toHaveLength(50);
    expect(read.keys).toEqual(wholeFile(text).keys);
  });

  it('leaves a valid file with many such entries to the whole-file readers (js-yaml is quicker for them)', () => {
    const many = `keys:\n${Array.from({ length: 1001 }, (_, i) => tagged(i)).join('')}`;
    expect(readKeysEntryByEntry('keys.yaml', many, SERVICES)).toBe(FOR_JS_YAML);
    fixture = writeFixture({ 'keys.yaml': many });
    const loaded = loadConfig(fixture.mainFile);
    expect(loaded.ok && loaded.snapshot.keys.size).toBe(1001);
    // Not when it has found something wrong: the rest are read one by one too.
    const wrongFirst = many.replace('scope: inherit', 'scope: everything');
    expect(entryByEntry(wrongFirst)?.errors).toHaveLength(1);
  });

  it('leaves a file with an alias or a layout its lines do not cut to the whole-file readers', () => {
    expect(entryByEntry(keysText(20).replace('deny: []', 'deny: &none []').replace('allow: []', 'allow: *none'))).toBeUndefined();
    expect(entryByEntry(keysText(20).replace('comment: plain', 'comment: |\n      plain'))).toBeUndefined();
  });
});
