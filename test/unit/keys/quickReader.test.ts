import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { hashFast } from '../../../src/auth/hash.js';
import { KeySet, type KeysRead } from '../../../src/config/keySet.js';
import { loadConfig } from '../../../src/config/load.js';
import { eachKeyByLine } from '../../../src/keys/fastReader.js';
import { canonicalInstant, readKeysQuickly } from '../../../src/keys/quickReader.js';
import { readKeysFile } from '../../../src/keys/reader.js';
import { parseTimestamp } from '../../../src/reader/values.js';
import { YamlReader } from '../../../src/reader/yamlReader.js';
import { writeFixture, type Fixture } from '../config/fixtures.js';
import { FIELD_VARIANTS, INSTANT_VARIANTS, keysText } from './keysCorpus.js';

/**
 * The quick reader lays entries in `keygate key`'s own shape straight into the store and
 * hands every other entry to the line reader: the store must be exactly the one the line
 * reader builds (positions, rule sets, digests, texts), and any wrong entry must make
 * the load fall back so the error names the same file:line:col.
 */

const SERVICES = { services: new Set(['compute']), extraMethods: new Set<string>() };
let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function byLine(text: string): KeysRead | undefined {
  const set = new KeySet();
  return eachKeyByLine('keys.yaml', text, SERVICES, (key) => set.add(key)) ? set.finish() : undefined;
}

/**
 * The quick reader's store, how many entries it laid out itself and how many it handed to
 * the line reader, and the room it reserved for keys (with how many keys were laid out by then).
 */
function quickly(
  text: string,
): { read: KeysRead; quick: number; handed: number; reserved: (readonly [keys: number, before: number])[] } | undefined {
  const set = new KeySet();
  let quick = 0;
  let handed = 0;
  const reserved: (readonly [number, number])[] = [];
  const sink = {
    add: (key: Parameters<KeySet['add']>[0]) => (handed++, set.add(key)),
    addPlain: (key: Parameters<KeySet['addPlain']>[0]) => (quick++, set.addPlain(key)),
    addRuleSet: (rules: Parameters<KeySet['addRuleSet']>[0]) => set.addRuleSet(rules),
    reserve: (keys: number) => (reserved.push([keys, set.count]), set.reserve(keys)),
  };
  return readKeysQuickly('keys.yaml', text, SERVICES, sink) ? { read: set.finish(), quick, handed, reserved } : undefined;
}

/** Comparable: the store's data, the records of the keys with limits or certificates. */
function comparable(read: KeysRead): unknown {
  const { store, duplicates, rateLimited, clientCertBindings } = read;
  return {
    data: store.data,
    list: store.list().map((k) => ({ ...k, hash: k.hash.text, sourceIPs: k.sourceIPs?.text ?? null })),
    duplicates,
    rateLimited,
    clientCertBindings,
  };
}

/** Two entries: the first with `field` (in place of the entry's own field of that name), then a plain one. */
function entriesWith(field: string): string {
  const name = field.split(':')[0];
  const base = { id: 'id: AAAAAAAAAAAA', user: 'user: joe', hash: `hash: "${hashFast('x')}"` } as Record<string, string>;
  const fields = [
    ...Object.entries(base)
      .filter(([n]) => n !== name)
      .map(([, f]) => f),
    field,
  ];
  return `# c\nkeys:\n  - ${fields.join('\n    ')}\n  - id: BBBBBBBBBBBB\n    user: joe\n    hash: "${hashFast('y')}"\n`;
}

/** The errors a load of `text` as the keys file reports, and those the positioned parser finds in it, as `line:col message`. */
function loadErrors(text: string): { loaded: string[]; positioned: string[] } {
  fixture = writeFixture({ 'keys.yaml': text });
  const loaded = loadConfig(fixture.mainFile);
  const positioned = new YamlReader(fixture.path('keys.yaml'), text);
  readKeysFile(positioned, SERVICES);
  const show = (e: { line: number; col: number; message: string }): string => `${e.line}:${e.col} ${e.message}`;
  const result = { loaded: (loaded.ok ? [] : loaded.errors).map(show), positioned: positioned.issues.map(show) };
  fixture.cleanup();
  fixture = undefined;
  return result;
}

/** As `keygate key create` and the benchmarks write keys. */
function written(count: number): string {
  const lines = ['# Written by `keygate key ...`: hashes only.', 'keys:'];
  for (let i = 0; i < count; i++) {
    lines.push(`  - id: Q${String(i).padStart(11, '0')}`, `    user: ${i % 7 === 0 ? 'alice' : 'joe'}`, `    name: key-${i % 50}`);
    lines.push(`    hash: "${hashFast(`secret-${i}`)}"`, `    scope: ${i % 4 === 0 ? 'inherit' : 'restricted'}`);
    if (i % 4 !== 0) lines.push('    allow:', '      - { service: compute, method: read, path: "/v2/*/servers/**" }');
    if (i % 3 === 0)
      lines.push(
        '    deny:',
        `      - { service: compute, method: DELETE, path: "/v2/p${i % 2}/**" }`,
        '      - { service: "*", path: "/admin/**" }',
      );
    if (i % 5 === 0) lines.push(`    comment: "rotated by ci: #${i}"`, '    disabled: true');
    if (i % 3 === 0) lines.push(`    expires: 2030-${String(1 + (i % 12)).padStart(2, '0')}-15T10:00:00Z`);
    if (i % 6 === 0) lines.push(`    notBefore: 2026-11-${String(1 + (i % 28)).padStart(2, '0')}T10:30:00Z`);
    if (i % 13 === 0) lines.push(`    legacy: ${i % 2 === 0}`);
    lines.push(`    created: 2026-11-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`);
    if (i % 4 === 1) lines.push(`    rotated: 2026-12-${String(1 + (i % 28)).padStart(2, '0')}T08:00:${String(i % 60).padStart(2, '0')}Z`);
    if (i % 11 === 0) lines.push('    # a comment line', '');
  }
  return `${lines.join('\n')}\n`;
}

describe('the quick reader', () => {
  it('lays out what keygate writes itself, exactly as the line reader does', () => {
    const text = written(600);
    const quick = quickly(text);
    expect(quick).toBeDefined();
    expect(quick!.quick).toBe(600);
    expect(quick!.handed).toBe(0);
    expect(comparable(quick!.read)).toEqual(comparable(byLine(text)!));
  });

  it('reserves room for as many keys as the file has entries, before laying out any', () => {
    // keysText's entries have nested lists, comments and blank lines; written()'s are indented by two.
    for (const [text, entries] of [
      [keysText(700), 700],
      [written(300), 300],
      [
        `keys:\n${written(5)
          .split('\n')
          .slice(2)
          .map((line) => line.slice(2))
          .join('\n')}`,
        5,
      ], // items at indent 0
    ] as const) {
      const quick = quickly(text);
      expect(quick).toBeDefined();
      expect(quick!.quick + quick!.handed).toBe(entries);
      expect(quick!.reserved).toEqual([[entries, 0]]);
    }
  });

  it('hands entries of other shapes to the line reader, and the store is the same', () => {
    const text = keysText(2000) + written(300).split('\n').slice(2).join('\n');
    const quick = quickly(text);
    expect(quick).toBeDefined();
    expect(quick!.quick).toBeGreaterThan(0);
    expect(quick!.handed).toBeGreaterThan(0);
    expect(comparable(quick!.read)).toEqual(comparable(byLine(text)!));
  });

  it.each([
    ...FIELD_VARIANTS,
    'id: 123456789012',
    'id: "123456789012"',
    'id: 0x1234567890',
    'user: true',
    'user: "true"',
    'user: ~',
    'name: nightly',
    'name: 2026-11-23T10:00:00Z',
    'hash: sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAéAAAAAAAAAAAAAAAAAAAA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAĀAAAAAAAAAAAAAAAAAAA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!AA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAéA"',
    'hash: "sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAĀ"',
    'hash: "sha256$_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-w"',
    'scope: inherit',
    'scope: "inherit"',
    'scope: all',
    'disabled: false',
    'disabled: yes',
    'created: 2026-11-23T10:00:00Z',
    'created: "last week"',
    'created: 1',
    'comment: a #b',
    'comment: "a" # b',
    'rateLimit: scraper',
    'secret: x',
    'allow:\n      - { service: compute, path: "/x" }\n    deny:\n      - { service: compute, path: "/x/y" }',
    'deny:\n      - { service: compute, path: "/x/y" }\n    allow:\n      - { service: compute, path: "/x" }',
    'allow:\n    - { service: compute, path: "/x" }',
    'allow:\n      - { service: nope, path: "/x" }',
    'allow:\n      - { service: compute, path: "x" }',
    'allow:\n      - { service: compute, path: "/x" }\n        - { service: compute, path: "/y" }',
  ])('%s: laid out as the line reader reads it, or left to it', (field) => {
    // The field replaces the entry's own when it has the same name (hash, user...).
    const text = entriesWith(field);
    const quick = quickly(text);
    if (quick === undefined) return;
    const expected = byLine(text);
    expect(expected).toBeDefined();
    expect(comparable(quick.read)).toEqual(comparable(expected!));
  });

  it('a wrong entry deep in a file it reads is reported where the positioned parser says', () => {
    for (const [from, to] of [
      ['path: "/v2/*/servers/**" }', 'path: "v2/*/servers/**" }'],
      ['scope: restricted', 'scope: everything'],
      ['user: joe', 'user: true'],
      ['hash: "sha256$', 'hash: "sha255$'],
      ['expires: 2030-01-15', 'expires: 2030-02-30'],
    ]) {
      const lines = written(1200).split('\n');
      const at = lines.findIndex((l, i) => i > lines.length * 0.8 && l.includes(from));
      lines[at] = lines[at].replace(from, to);
      const text = lines.join('\n');
      expect(quickly(text), to).toBeUndefined();
      const { loaded, positioned } = loadErrors(text);
      expect(positioned.length, to).toBeGreaterThan(0);
      expect(loaded).toEqual(positioned);
    }
  });
});

describe('instants and legacy on the quick path', () => {
  it.each(INSTANT_VARIANTS.written)('%s: laid out by the quick reader, as the line reader lays it out', (field) => {
    const text = entriesWith(field);
    const quick = quickly(text);
    expect(quick).toBeDefined();
    expect([quick!.quick, quick!.handed]).toEqual([2, 0]);
    expect(comparable(quick!.read)).toEqual(comparable(byLine(text)!));
  });

  it.each(INSTANT_VARIANTS.otherValid)('%s: handed to the exact readers, which read it', (field) => {
    const text = entriesWith(field);
    const quick = quickly(text);
    expect(quick).toBeDefined();
    expect([quick!.quick, quick!.handed]).toEqual([1, 1]);
    expect(comparable(quick!.read)).toEqual(comparable(byLine(text)!));
  });

  it.each(INSTANT_VARIANTS.wrong)('%s: the file is read again, and the error is where the positioned parser puts it', (field) => {
    const text = entriesWith(field);
    expect(quickly(text)).toBeUndefined();
    const { loaded, positioned } = loadErrors(text);
    expect(positioned.length).toBeGreaterThan(0);
    expect(loaded).toEqual(positioned);
  });

  it('reads an instant in the written form exactly as readTimestamp does', () => {
    const pad = (n: number, width: number): string => String(n).padStart(width, '0');
    const instant = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1000, 1900, 2000, 2024, 2100, 2400)),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 0, max: 61 }),
      )
      .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}Z`);
    // One character replaced now and then: a letter, a sign, another separator.
    const text = fc
      .tuple(instant, fc.option(fc.tuple(fc.nat(19), fc.constantFrom('a', 'z', 't', ' ', '+', '-', ':', '.', '/', '9')), { freq: 3 }))
      .map(([t, change]) => (change ? t.slice(0, change[0]) + change[1] + t.slice(change[0] + 1) : t));
    fc.assert(
      fc.property(text, (t) => {
        const quick = canonicalInstant(`x${t}y`, 1, t.length + 1);
        const exact = parseTimestamp(t);
        if (!Number.isNaN(quick)) expect(exact).toBe(quick);
        // Every valid instant written this way from year 1000 on is read on the quick path.
        else if (typeof exact === 'number' && /^[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(t)) expect.unreachable(t);
      }),
      { numRuns: 20_000 },
    );
  });
});
