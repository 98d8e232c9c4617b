import { describe, expect, it } from 'vitest';
import { hashFast } from '../../../src/auth/hash.js';
import { appendKeys, dropEndedGrace, promoteShadow, removeKey, setShadow, updateKey, type KeyEntry } from '../../../src/keys/editor.js';
import { entrySpans, spanAt } from '../../../src/keys/entrySpans.js';
import { takenIds } from '../../../src/keys/mint.js';
import { id as corpusId, keysText } from './keysCorpus.js';

/**
 * The editor parses only the entry it edits when the file's layout allows (entrySpans);
 * every edit must give the text it gives when it parses the whole file. A first line with
 * a tab (entrySpans refuses tabs) and a backslash (the id search refuses escapes) makes
 * every edit parse the whole file, and the edits keep every byte outside their entry, so
 * the same edit on that text, minus that line, is what the whole-file path gives.
 */
const WHOLE_FILE = '#\t\\ whole\n';

function viaWholeFile(edit: (text: string) => string, text: string): string {
  const out = edit(WHOLE_FILE + text);
  expect(out.startsWith(WHOLE_FILE)).toBe(true);
  return out.slice(WHOLE_FILE.length);
}

function sameBothWays(edit: (text: string) => string, text: string): string {
  const alone = edit(text);
  expect(alone).toBe(viaWholeFile(edit, text));
  return alone;
}

const ENTRY: KeyEntry = {
  id: 'NEWNEWNEWNEW',
  user: 'joe',
  name: 'ci',
  hash: hashFast('new'),
  scope: 'restricted',
  allow: [{ service: 'compute', method: 'read', path: '/v2/**' }],
  created: '2026-11-23T10:00:00Z',
};

const CORPUS = keysText(24);
const IDS = Array.from({ length: 24 }, (_, i) => corpusId(i));

describe('entrySpans', () => {
  it('spans each entry from its `- ` line to its last line that is not blank or a comment', () => {
    const text =
      '# head\nkeys:\n  # first\n  - id: A\n    user: joe   # who\n\n    # inside\n    name: x\n  # about B\n\n  - id: B\n    user: ann\n# tail\n';
    const spans = entrySpans(text)!;
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual([
      '  - id: A\n    user: joe   # who\n\n    # inside\n    name: x\n',
      '  - id: B\n    user: ann\n',
    ]);
    expect(spans.every((s) => s.indent === 2)).toBe(true);
    expect(spanAt(spans, text.indexOf('# about B'))).toBeUndefined();
    expect(spanAt(spans, text.indexOf('ann'))).toBe(spans[1]);
    expect(spanAt(spans, 0)).toBeUndefined();
  });

  it('reads a list written without indentation and a last line without a newline', () => {
    const text = 'keys:\n- id: A\n  user: joe\n- id: B\n  user: ann';
    expect(entrySpans(text)!.map((s) => [text.slice(s.start, s.end), s.indent])).toEqual([
      ['- id: A\n  user: joe\n', 0],
      ['- id: B\n  user: ann', 0],
    ]);
  });

  it.each([
    ['a tab', 'keys:\n  - id: A\n    user:\tjoe\n'],
    ['CR line ends', 'keys:\r\n  - id: A\r\n'],
    ['a block scalar', 'keys:\n  - id: A\n    comment: |\n      # not a comment\n'],
    ['a folded block scalar', 'keys:\n  - id: A\n    comment: >-\n      text\n'],
    ['a document marker', '---\nkeys:\n  - id: A\n'],
    ['a directive', '%YAML 1.2\n---\nkeys:\n  - id: A\n'],
    ['another field after the list', 'keys:\n  - id: A\nother: 1\n'],
    ['another field before the list', 'other: 1\nkeys:\n  - id: A\n'],
    ['a flow list', 'keys: [{ id: A }]\n'],
    ['an empty list', 'keys: []\n'],
    ['no entries', 'keys:\n# none\n'],
    ['an entry that starts on the line after its dash', 'keys:\n  -\n    id: A\n'],
    ['an entry whose dash line is a comment', 'keys:\n  - # A\n    id: A\n'],
    ['a line at the list indentation that is no entry', 'keys:\n  - id: A\n  user: joe\n'],
    ['a line left of the list', 'keys:\n  - id: A\n user: joe\n'],
  ])('gives up on %s', (_what, text) => {
    expect(entrySpans(text)).toBeUndefined();
  });
});

describe('edits that parse only their entry give what parsing the whole file gives', () => {
  it('updateKey in place, re-rendered, and with a list, for every layout of the corpus', () => {
    for (const id of IDS) {
      sameBothWays((t) => updateKey(t, id, { disabled: true }), CORPUS);
      sameBothWays((t) => updateKey(t, id, { comment: 'a: b # c', expires: '2031-01-01T00:00:00Z' }), CORPUS);
      sameBothWays((t) => updateKey(t, id, { sourceIPs: ['10.0.0.0/8'], deny: null }), CORPUS);
    }
  });

  it('removeKey, setShadow and promoteShadow', () => {
    for (const id of IDS) {
      const removed = sameBothWays((t) => removeKey(t, id), CORPUS);
      expect(removed).not.toContain(`id: ${id}`);
      expect(removed).not.toContain(`id: "${id}"`);
      sameBothWays((t) => setShadow(t, id, { allow: [{ service: 'compute', method: 'GET', path: '/v2/**' }] }), CORPUS);
    }
    // Entries 0, 2, 6... have a shadow scope in the corpus.
    for (const id of IDS.filter((_, i) => i % 6 === 0 || i % 6 === 2)) sameBothWays((t) => promoteShadow(t, id), CORPUS);
  });

  it('appendKeys, with and without a newline and comments at the end', () => {
    sameBothWays((t) => appendKeys(t, [ENTRY]), CORPUS);
    sameBothWays((t) => appendKeys(t, [ENTRY, { ...ENTRY, id: 'NEW2NEW2NEW2' }]), `${CORPUS}# footer\n\n`);
    sameBothWays((t) => appendKeys(t, [ENTRY]), CORPUS.trimEnd());
  });

  it('dropEndedGrace drops the ended graces only', () => {
    const grace = (id: string, until: string): string =>
      `  - id: ${id}\n    user: joe\n    hash: "${hashFast(id)}"\n    previousHash: "${hashFast(`old-${id}`)}"\n    previousHashExpires: ${until}\n    scope: inherit\n`;
    const ended = (n: number): string => grace(`GRACEENDED${String(n).padStart(2, '0')}`, '2026-01-01T00:00:00Z');
    // Several ended graces, one edit each in the same pass (the last entry first), around one that has not ended.
    const text = `${ended(1)}${CORPUS.split('\n').slice(2).join('\n')}${ended(2)}${grace('GRACELATER00', '2027-01-01T00:00:00Z')}${ended(3)}`;
    const now = Date.parse('2026-06-01T00:00:00Z');
    const after = sameBothWays((t) => dropEndedGrace(t, now), `keys:\n${text}`);
    expect(after.match(/previousHashExpires/g)).toHaveLength(1);
    expect(after).toContain('GRACELATER00');
    expect(dropEndedGrace(CORPUS, now)).toBe(CORPUS);
  });

  it('finds the entry with the id, not one that mentions it first', () => {
    const text = CORPUS.replace('    comment: plain', `    comment: see ${IDS[7]}`);
    expect(text).not.toBe(CORPUS);
    const after = sameBothWays((t) => updateKey(t, IDS[7], { disabled: true }), text);
    expect(after).toContain(`see ${IDS[7]}`);
  });

  it('an entry with an alias to an anchor in another entry: the same edit, or the same error', () => {
    const text = CORPUS.replace('    deny: []', '    deny: &none []').replace('    allow: []', '    allow: *none');
    expect(text).toContain('*none');
    const aliased = IDS[3];
    sameBothWays((t) => updateKey(t, aliased, { disabled: false }), text);
    // Rendering the entry again would leave the alias without its anchor: both ways refuse it alike, and say why.
    const rerender = (t: string): string => updateKey(t, aliased, { comment: 'x' });
    const refused = expect.objectContaining({
      code: 'KEYGATE_KEYS_ALIAS',
      message: expect.stringContaining(`key ${aliased} uses the YAML alias *none`),
    });
    expect(() => rerender(text)).toThrow(refused);
    expect(() => viaWholeFile(rerender, text)).toThrow(refused);
  });

  it('an entry with an alias to an anchor of its own is rendered again with both', () => {
    const text = CORPUS.replace('    allow: []', '    allow: &own []\n    deny: *own');
    const after = sameBothWays((t) => updateKey(t, IDS[3], { comment: 'x' }), text);
    expect(after).toContain('allow: &own []');
    expect(after).toContain('deny: *own');
  });

  it('reads no other entry: a duplicate field elsewhere stops only the whole-file parse', () => {
    const text = `${CORPUS}  - id: DUPLICATE000\n    user: joe\n    user: ann\n`;
    expect(() => viaWholeFile((t) => updateKey(t, IDS[1], { disabled: true }), text)).toThrow(
      expect.objectContaining({ code: 'KEYGATE_KEYS_UNPARSABLE' }),
    );
    const after = updateKey(text, IDS[1], { disabled: true });
    expect(after).toBe(updateKey(CORPUS, IDS[1], { disabled: true }) + text.slice(CORPUS.length));
    expect(() => updateKey(text, 'DUPLICATE000', { disabled: true })).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNPARSABLE' }));
  });

  it('an unknown id is reported as before', () => {
    expect(() => updateKey(CORPUS, 'ZZZZZZZZZZZZ', { disabled: true })).toThrow(
      expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' }),
    );
    expect(() => removeKey(CORPUS, 'ZZZZZZZZZZZZ')).toThrow(expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' }));
    // Mentioned only in a comment: still unknown.
    const mentioned = CORPUS.replace('    comment: plain', '    comment: plain # not ZZZZZZZZZZZZ');
    expect(mentioned).not.toBe(CORPUS);
    expect(() => updateKey(mentioned, 'ZZZZZZZZZZZZ', { disabled: true })).toThrow(
      expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' }),
    );
  });

  it('an unknown id is told from the entries alone, without parsing the whole file', () => {
    // A duplicate field elsewhere stops a whole-file parse (UNPARSABLE); the entries that hold the id's text are enough.
    const text = `${CORPUS}  - id: DUPLICATE000\n    user: joe\n    user: ann\n`;
    const unknown = expect.objectContaining({ code: 'KEYGATE_KEYS_UNKNOWN_ID' });
    expect(() => viaWholeFile((t) => removeKey(t, 'ZZZZZZZZZZZZ'), text)).toThrow(
      expect.objectContaining({ code: 'KEYGATE_KEYS_UNPARSABLE' }),
    );
    expect(() => removeKey(text, 'ZZZZZZZZZZZZ')).toThrow(unknown);
    expect(() => updateKey(text, 'ZZZZZZZZZZZZ', { disabled: true })).toThrow(unknown);
  });
});

describe('takenIds', () => {
  const none = { has: (): boolean => false };

  it('counts ids in the text, in the loaded config and handed out', () => {
    const taken = takenIds(CORPUS, { has: (id) => id === 'LOADEDLOADED' });
    expect(taken.has(IDS[3])).toBe(true);
    expect(taken.has('LOADEDLOADED')).toBe(true);
    expect(taken.has('NEWNEWNEWNEW')).toBe(false);
    taken.add('NEWNEWNEWNEW');
    expect(taken.has('NEWNEWNEWNEW')).toBe(true);
  });

  it('finds an id written with escapes', () => {
    const text = 'keys:\n  - id: "\\x41BCDEFGHIJKL"\n    user: joe\n';
    expect(takenIds(text, none).has('ABCDEFGHIJKL')).toBe(true);
    expect(takenIds(text, none).has('BCDEFGHIJKLM')).toBe(false);
  });
});
