import { describe, expect, it } from 'vitest';
import { appendKeys, keyIds, removeKey, updateKey, type KeyEntry } from '../../../src/keys/editor.js';
import { KeysFileError } from '../../../src/keys/errors.js';
import { readKeysFile } from '../../../src/keys/reader.js';
import { YamlReader } from '../../../src/reader/yamlReader.js';

/** Hand-written on purpose: aligned comments, blank lines, a footer, mixed quoting — what re-stringifying would destroy. */
const FILE = `# keys for the staging cluster
# (hashes only)

keys:
  # the scraper
  - id: AAAAAAAAAAAA               # public key id
    user: joe
    name:   monitoring
    hash: 'sha256$1SkTEyf2RSvByvzd3cjRzJESu-k0ld3pFQmsiYtGX8c'
    allow:
      - {service: compute,   method: read, path: "/v2/*/servers/**"}
    disabled: false            # flip to revoke
    comment: grafana scraper

  - id: BBBBBBBBBBBB
    user: joe
    name: deploy
    hash: "sha256$FXsKdV7BnUxN7c9JIKuE0VbnbMbXcx7CatLEzsECFkI"
    scope: inherit
    # keep CI from deleting
    deny: [ {service: compute, method: DELETE, path: "/**"} ]
  - id: CCCCCCCCCCCC
    user: alice
    hash: "sha256$xMlZP9dtOKrad5up_EMHINewpc8ztfFgzaaI--u42Ck"
    scope: inherit
    sourceIPs: [127.0.0.0/8, "::1/128"]   # this host only
# end of keys
`;

const ENTRY: KeyEntry = {
  id: 'NEWNEWNEWNEW',
  user: 'joe',
  name: 'ci',
  hash: 'sha256$ilXPJWEI7d4HNUmfISgiwPaUI1oTKaPM4EBQZ1x6cKk',
  scope: 'restricted',
  allow: [
    { service: 'compute', method: 'read', path: '/v2/**' },
    { region: ['eu-west-1', 'us-east-1'], service: '*', method: ['GET', 'POST'], path: '/{project}/x' },
  ],
  deny: [{ service: 'compute', method: 'DELETE', path: '/**' }],
  sourceIPs: ['10.0.0.0/8', '::1/128'],
  expires: '2027-01-01T00:00:00Z',
  notBefore: '2026-01-01T00:00:00Z',
  comment: 'a comment: with # and "quotes"',
  created: '2026-11-23T10:00:00Z',
};

const SERVICES = { services: new Set(['compute', 'identity']), extraMethods: new Set<string>() };

function parse(text: string): ReturnType<typeof readKeysFile> {
  const r = new YamlReader('keys.yaml', text);
  const keys = readKeysFile(r, SERVICES);
  expect(r.issues).toEqual([]);
  return keys;
}

/** Lines of `after` not in the `[from, to)` line range must equal `before` with its `[from, oldTo)` range removed. */
function expectOnlyLinesChanged(before: string, after: string, changed: { from: number; oldTo: number; newTo: number }): void {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.slice(0, changed.from)).toEqual(a.slice(0, changed.from));
  expect(b.slice(changed.newTo)).toEqual(a.slice(changed.oldTo));
}

const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle));

describe('appendKeys', () => {
  it('adds the entry after the last one and leaves every other byte alone', () => {
    const after = appendKeys(FILE, [ENTRY]);
    const footer = lineOf(FILE, '# end of keys');
    const added = after.split('\n').length - FILE.split('\n').length;
    expectOnlyLinesChanged(FILE, after, { from: footer, oldTo: footer, newTo: footer + added });
    expect(after.split('\n')[footer]).toBe('  - id: NEWNEWNEWNEW');
  });

  it('writes an entry the loader reads back exactly', () => {
    const key = parse(appendKeys(FILE, [ENTRY])).find((k) => k.id === ENTRY.id)!;
    expect(key).toMatchObject({
      user: 'joe',
      name: 'ci',
      scope: 'restricted',
      comment: ENTRY.comment,
      created: ENTRY.created,
      disabled: false,
      legacy: false,
    });
    expect(key.hash.text).toBe(ENTRY.hash);
    expect(key.allow.rules.map((r) => [r.service, r.methods && [...r.methods], r.path.text, r.regions && [...r.regions]])).toEqual([
      ['compute', ['GET', 'HEAD'], '/v2/**', null],
      ['*', ['GET', 'POST'], '/{project}/x', ['eu-west-1', 'us-east-1']],
    ]);
    expect(key.deny.size).toBe(1);
    expect(key.sourceIPs?.text).toEqual(['10.0.0.0/8', '::1/128']);
    expect(key.expires).toBe(Date.parse('2027-01-01T00:00:00Z'));
    expect(key.notBefore).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('writes rules as flow maps, like the example file', () => {
    expect(appendKeys(FILE, [ENTRY])).toContain('      - { service: compute, method: read, path: "/v2/**" }\n');
  });

  it('matches the indentation of a list written without indent', () => {
    const flat = 'keys:\n- id: AAAAAAAAAAAA\n  user: joe\n  hash: "sha256$1SkTEyf2RSvByvzd3cjRzJESu-k0ld3pFQmsiYtGX8c"\n  scope: inherit\n';
    const after = appendKeys(flat, [ENTRY]);
    expect(after.startsWith(flat)).toBe(true);
    expect(after.slice(flat.length)).toMatch(/^- id: NEWNEWNEWNEW\n {2}user: joe\n/);
    expect(parse(after)).toHaveLength(2);
  });

  it('adds a newline when the file does not end with one', () => {
    const after = appendKeys(FILE.trimEnd().replace(/\n# end of keys$/, ''), [ENTRY]);
    expect(parse(after).map((k) => k.id)).toEqual(['AAAAAAAAAAAA', 'BBBBBBBBBBBB', 'CCCCCCCCCCCC', 'NEWNEWNEWNEW']);
  });

  it('keeps CRLF line endings', () => {
    const crlf = FILE.replace(/\n/g, '\r\n');
    const after = appendKeys(crlf, [ENTRY]);
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
    expect(parse(after)).toHaveLength(4);
  });

  it.each([
    ['an empty list', '# nothing yet\nkeys: []\n'],
    ['a null list', 'keys:\n'],
    ['an empty file', ''],
    [
      'a flow list',
      'keys: [{ id: AAAAAAAAAAAA, user: joe, hash: "sha256$1SkTEyf2RSvByvzd3cjRzJESu-k0ld3pFQmsiYtGX8c", scope: inherit }]\n',
    ],
  ])('renders %s as a block list, keeping its comments', (_what, text) => {
    const after = appendKeys(text, [ENTRY]);
    expect(parse(after).at(-1)?.id).toBe(ENTRY.id);
    if (text.startsWith('#')) expect(after.startsWith('# nothing yet\n')).toBe(true);
  });

  it('refuses a file that is not a keys file', () => {
    expect(() => appendKeys('keys: [\n', [ENTRY])).toThrow(KeysFileError);
    expect(() => appendKeys('- a\n- b\n', [ENTRY])).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNPARSABLE' }));
    expect(() => appendKeys('keys: 3\n', [ENTRY])).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNPARSABLE' }));
  });
});

describe('updateKey', () => {
  it('replaces an existing scalar in place, keeping its comment and alignment', () => {
    const after = updateKey(FILE, 'AAAAAAAAAAAA', { disabled: true });
    const line = lineOf(FILE, 'disabled: false');
    const [was, now] = [FILE.split('\n')[line], after.split('\n')[line]];
    expect(now).toMatch(/^ {4}disabled: true +# flip to revoke$/);
    expect(now.indexOf('#')).toBe(was.indexOf('#'));
    expectOnlyLinesChanged(FILE, after, { from: line, oldTo: line + 1, newTo: line + 1 });
  });

  it('keeps the quoting style of a replaced hash', () => {
    const after = updateKey(FILE, 'AAAAAAAAAAAA', { hash: 'sha256$NEW' });
    expect(after).toContain("    hash: 'sha256$NEW'\n");
    expect(updateKey(FILE, 'BBBBBBBBBBBB', { hash: 'sha256$NEW' })).toContain('    hash: "sha256$NEW"\n');
  });

  it('adds a missing field in field order, re-rendering only that entry', () => {
    const after = updateKey(FILE, 'BBBBBBBBBBBB', { disabled: true });
    const from = lineOf(FILE, 'id: BBBBBBBBBBBB');
    const oldTo = lineOf(FILE, 'id: CCCCCCCCCCCC');
    const newTo = lineOf(after, 'id: CCCCCCCCCCCC');
    expectOnlyLinesChanged(FILE, after, { from, oldTo, newTo });
    expect(after.split('\n').slice(from, newTo)).toEqual([
      '  - id: BBBBBBBBBBBB',
      '    user: joe',
      '    name: deploy',
      '    hash: "sha256$FXsKdV7BnUxN7c9JIKuE0VbnbMbXcx7CatLEzsECFkI"',
      '    scope: inherit',
      '    # keep CI from deleting',
      '    deny: [ { service: compute, method: DELETE, path: "/**" } ]',
      '    disabled: true',
    ]);
    expect(parse(after).find((k) => k.id === 'BBBBBBBBBBBB')?.disabled).toBe(true);
  });

  it('keeps the comment lines around a re-rendered entry', () => {
    const after = updateKey(FILE, 'AAAAAAAAAAAA', { legacy: false });
    expect(after).toContain('keys:\n  # the scraper\n  - id: AAAAAAAAAAAA # public key id\n');
    expect(after).toContain('    comment: grafana scraper\n    legacy: false\n\n  - id: BBBBBBBBBBBB\n');
  });

  it('changes several fields at once', () => {
    const after = updateKey(FILE, 'CCCCCCCCCCCC', { hash: 'sha256$ilXPJWEI7d4HNUmfISgiwPaUI1oTKaPM4EBQZ1x6cKk', legacy: false });
    const key = parse(after).find((k) => k.id === 'CCCCCCCCCCCC')!;
    expect(key.hash.text).toBe('sha256$ilXPJWEI7d4HNUmfISgiwPaUI1oTKaPM4EBQZ1x6cKk');
    expect(after.endsWith('    legacy: false\n# end of keys\n')).toBe(true);
  });

  it('sets list fields and removes fields (null), re-rendering only that entry', () => {
    const after = updateKey(FILE, 'BBBBBBBBBBBB', {
      sourceIPs: ['10.0.0.0/8', '::1'],
      deny: null,
      allow: [{ service: 'compute', method: 'read', path: '/v2/**' }],
      scope: 'restricted',
    });
    const key = parse(after).find((k) => k.id === 'BBBBBBBBBBBB')!;
    expect(key.scope).toBe('restricted');
    expect(key.deny.rules).toEqual([]);
    expect(key.allow.rules.map((r) => r.path.text)).toEqual(['/v2/**']);
    expect(key.sourceIPs?.text).toEqual(['10.0.0.0/8', '::1']);
    expect(after).toContain('    sourceIPs: [ 10.0.0.0/8, "::1" ]\n');
    expectOnlyLinesChanged(FILE, after, {
      from: lineOf(FILE, 'id: BBBBBBBBBBBB'),
      oldTo: lineOf(FILE, 'id: CCCCCCCCCCCC'),
      newTo: lineOf(after, 'id: CCCCCCCCCCCC'),
    });
  });

  it('throws KEYGATE_KEYS_UNKNOWN_ID for an id that is not there', () => {
    expect(() => updateKey(FILE, 'ZZZZZZZZZZZZ', { disabled: true })).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' }));
  });
});

describe('removeKey', () => {
  it.each(['AAAAAAAAAAAA', 'BBBBBBBBBBBB', 'CCCCCCCCCCCC'])('removes %s and nothing else', (id) => {
    const after = removeKey(FILE, id);
    expect(keyIds(after)).toEqual(keyIds(FILE).filter((k) => k !== id));
    const from = lineOf(FILE, `id: ${id}`);
    const removed = FILE.split('\n').length - after.split('\n').length;
    expectOnlyLinesChanged(FILE, after, { from, oldTo: from + removed, newTo: from });
    expect(after).toContain('# the scraper');
    expect(after).toContain('# end of keys');
  });

  it('leaves an empty (valid) list when the last key goes', () => {
    const one =
      'keys:\n  - id: AAAAAAAAAAAA\n    user: joe\n    hash: "sha256$1SkTEyf2RSvByvzd3cjRzJESu-k0ld3pFQmsiYtGX8c"\n    scope: inherit\n# footer\n';
    const after = removeKey(one, 'AAAAAAAAAAAA');
    expect(after).toBe('keys: []\n# footer\n');
    expect(parse(after)).toEqual([]);
    expect(keyIds(appendKeys(after, [ENTRY]))).toEqual([ENTRY.id]);
  });

  it('throws for an unknown id', () => {
    expect(() => removeKey(FILE, 'ZZZZZZZZZZZZ')).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' }));
  });
});
