import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashFast } from '../../../src/auth/hash.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigWatcher } from '../../../src/reload/watch.js';
import { edit, MAIN, writeFixture, type Fixture } from './fixtures.js';

/** `keys: [./keys.d/]`: every *.yaml in the directory is a keys file; files come and go. */

const DIR_MAIN = edit(MAIN, 'keys: [./keys.yaml]', 'keys: [./keys.d/]');

function keysFile(...ids: string[]): string {
  return `keys:\n${ids.map((id) => `  - id: ${id}\n    user: joe\n    hash: "${hashFast(id)}"\n    scope: inherit\n`).join('')}`;
}

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function withDirectory(files: Record<string, string>): Fixture {
  fixture = writeFixture({ 'keygate.yaml': DIR_MAIN, 'keys.yaml': null });
  mkdirSync(fixture.path('keys.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(fixture.path('keys.d'), name), text);
  return fixture;
}

describe('a keys directory', () => {
  it('loads every *.yaml and *.yml in name order, skipping hidden and other files', () => {
    const f = withDirectory({
      'b.yaml': keysFile('BBBBBBBBBBBB'),
      'a.yml': keysFile('AAAAAAAAAAAA'),
      '.hidden.yaml': 'not: [valid',
      'notes.txt': 'not a keys file',
    });
    const loaded = loadConfig(f.mainFile);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    expect([...loaded.snapshot.keys.ids()]).toEqual(['AAAAAAAAAAAA', 'BBBBBBBBBBBB']);
    expect(loaded.snapshot.keysFiles).toEqual([f.path('keys.d/a.yml'), f.path('keys.d/b.yaml')]);
    expect(loaded.snapshot.keys.byId.get('BBBBBBBBBBBB')?.file).toBe(f.path('keys.d/b.yaml'));
  });

  it('an id in two files is an error at the second naming the first', () => {
    const f = withDirectory({ 'a.yaml': keysFile('AAAAAAAAAAAA'), 'b.yaml': keysFile('CCCCCCCCCCCC', 'AAAAAAAAAAAA') });
    const loaded = loadConfig(f.mainFile);
    expect(loaded.ok).toBe(false);
    expect(loaded.ok ? [] : loaded.errors).toEqual([
      { file: f.path('keys.d/b.yaml'), line: 6, col: 5, keyId: 'AAAAAAAAAAAA', message: `duplicate key id "AAAAAAAAAAAA" (first at ${f.path('keys.d/a.yaml')}:2:5)` },
    ]);
  });

  it('an empty directory is no keys; a missing one is an error naming it', () => {
    const f = withDirectory({});
    const empty = loadConfig(f.mainFile);
    expect(empty.ok && empty.snapshot.keys.size).toBe(0);
    rmSync(f.path('keys.d'), { recursive: true });
    const missing = loadConfig(f.mainFile);
    expect(missing.ok ? [] : missing.errors.map((e) => e.file)).toEqual([f.path('keys.d')]);
  });

  it('the watcher sees a file arrive and a file leave, and nothing when a non-keys file changes', async () => {
    const f = withDirectory({ 'a.yaml': keysFile('AAAAAAAAAAAA') });
    const loaded = loadConfig(f.mainFile);
    const watcher = new ConfigWatcher({ timing: { debounce: 10, interval: 0 }, onCheck: () => undefined });
    try {
      watcher.follow(loaded.sources);
      writeFileSync(f.path('keys.d/notes.txt'), 'x');
      expect(await watcher.changed()).toEqual([]);
      writeFileSync(f.path('keys.d/.b.yaml.tmp'), keysFile('BBBBBBBBBBBB'));
      renameSync(f.path('keys.d/.b.yaml.tmp'), f.path('keys.d/b.yaml'));
      expect(await watcher.changed()).toEqual([`${f.path('keys.d')}/`]);
      watcher.follow(loadConfig(f.mainFile).sources);
      rmSync(f.path('keys.d/a.yaml'));
      expect((await watcher.changed()).sort()).toEqual([`${f.path('keys.d')}/`, f.path('keys.d/a.yaml')]);
    } finally {
      watcher.close();
    }
  });
});
