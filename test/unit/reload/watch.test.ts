import { appendFileSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FINGERPRINT_TIMEOUT_MS,
  FingerprintCache,
  fileMeta,
  fingerprintBytes,
  fingerprintFile,
  stable,
} from '../../../src/config/fingerprint.js';
import { ConfigWatcher, type CheckReason } from '../../../src/reload/watch.js';
import { waitFor } from '../../helpers/keygate.js';
import { kubeletWrite } from '../../helpers/kubeletVolume.js';

/** A watcher over real files in a temp dir; `checks` counts every onCheck call by reason. */
function setup(dir: string, files: string[], timing = { debounce: 20, interval: 60_000 }) {
  const checks: CheckReason[] = [];
  const watcher = new ConfigWatcher({ timing, onCheck: (r) => checks.push(r) });
  const follow = async (): Promise<void> => {
    const entries = await Promise.all(files.map(async (f) => [f, await fingerprintFile(f)] as const));
    watcher.follow(new Map(entries));
  };
  /** Waits for a file event check, then answers what changed. */
  const nextChange = async (): Promise<string[]> => {
    const before = checks.length;
    await waitFor(
      () => checks.length > before,
      3_000,
      () => `no check after ${before} checks`,
    );
    return watcher.changed();
  };
  return { checks, watcher, follow, nextChange };
}

describe('ConfigWatcher', () => {
  let dir: string;
  let close: (() => void) | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-watch-'));
  });
  afterEach(() => {
    close?.();
    close = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('fingerprints a file the same streamed as in one piece', async () => {
    const file = join(dir, 'big.yaml');
    const bytes = Buffer.alloc(300_000, 'k');
    writeFileSync(file, bytes);
    expect(await fingerprintFile(file)).toBe(fingerprintBytes(bytes));
    expect(await fingerprintFile(join(dir, 'missing.yaml'))).toBe('error:ENOENT');
  });

  it('answers a file whose metadata is unchanged without reading it, and reads it again after any write', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: [1]\n');
    const cache = new FingerprintCache(-1_000_000_000n); // trusts even a file written this very moment
    const first = await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache);
    expect(await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache)).toBe(first);
    expect(cache.hits).toBe(1);
    // The same size and the old mtime put back: only ctime tells, and it cannot be set back.
    const { mtime } = statSync(file);
    writeFileSync(file, 'keys: [2]\n');
    utimesSync(file, mtime, mtime);
    expect(await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache)).toBe(fingerprintBytes(Buffer.from('keys: [2]\n')));
    expect(cache.hits).toBe(1);
    cache.keepOnly([]);
    await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache);
    expect(cache.hits).toBe(1);
  });

  it("takes a load's fingerprint as known for a file whose metadata the load recorded, until the file changes", async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: [1]\n');
    const cache = new FingerprintCache();
    const loaded = fingerprintBytes(Buffer.from('keys: [1]\n'));
    cache.seed(new Map([[file, loaded]]), new Map([[file, fileMeta(statSync(file, { bigint: true }))]]));
    expect(await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache)).toBe(loaded);
    expect(cache.hits).toBe(1);
    appendFileSync(file, '# more\n');
    expect(await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache)).toBe(fingerprintBytes(Buffer.from('keys: [1]\n# more\n')));
    expect(cache.hits).toBe(1);
  });

  it('trusts metadata only for a file that last changed over 2 s before it was read', () => {
    const stats = statSync(join(dir), { bigint: true });
    expect(stable(stats, stats.ctimeNs + 2_500_000_000n)).toBe(true);
    expect(stable(stats, stats.ctimeNs + 1_000_000_000n)).toBe(false);
  });

  it('reads a file written within the last seconds on every check (a coarse timestamp could hide a second write)', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: [1]\n');
    const cache = new FingerprintCache();
    await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache);
    await fingerprintFile(file, FINGERPRINT_TIMEOUT_MS, cache);
    expect(cache.hits).toBe(0);
  });

  const changes: { name: string; change: (file: string) => void }[] = [
    { name: 'an in-place write', change: (f) => writeFileSync(f, 'keys: [1]\n') },
    { name: 'an append', change: (f) => appendFileSync(f, '# more\n') },
    {
      name: 'a temp file renamed over it',
      change: (f) => {
        writeFileSync(`${f}.tmp`, 'keys: [2]\n');
        renameSync(`${f}.tmp`, f);
      },
    },
    { name: 'a delete', change: (f) => rmSync(f) },
  ];
  for (const { name, change } of changes) {
    it(`sees ${name}`, async () => {
      const file = join(dir, 'keys.yaml');
      writeFileSync(file, 'keys: []\n');
      const w = setup(dir, [file]);
      close = () => w.watcher.close();
      await w.follow();
      change(file);
      expect(await w.nextChange()).toEqual([file]);
      expect(w.checks).toContain('file');
    });
  }

  it('ignores a touch or a rewrite with the same bytes, and unrelated files', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: []\n');
    const w = setup(dir, [file]);
    close = () => w.watcher.close();
    await w.follow();
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(await w.nextChange()).toEqual([]);
    writeFileSync(file, 'keys: []\n');
    expect(await w.nextChange()).toEqual([]);
    const before = w.checks.length;
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    writeFileSync(file, 'keys: [1]\n'); // the marker: its check comes after any the unrelated file caused
    expect(await w.nextChange()).toEqual([file]);
    expect(w.checks.length).toBe(before + 1);
  });

  it('sees a file deleted and created again, by content', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: []\n');
    const w = setup(dir, [file]);
    close = () => w.watcher.close();
    await w.follow();
    rmSync(file);
    expect(await w.nextChange()).toEqual([file]);
    writeFileSync(file, 'keys: []\n');
    expect(await w.nextChange()).toEqual([]); // same bytes as the last load read: nothing to reload
    writeFileSync(file, 'keys: [3]\n');
    expect(await w.nextChange()).toEqual([file]);
  });

  it('makes one check of a burst of writes', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: []\n');
    const w = setup(dir, [file], { debounce: 100, interval: 60_000 });
    close = () => w.watcher.close();
    await w.follow();
    for (let i = 0; i < 30; i++) writeFileSync(file, `keys: [${i}]\n`);
    expect(await w.nextChange()).toEqual([file]);
    writeFileSync(file, 'keys: [marker]\n');
    await w.nextChange();
    expect(w.checks).toEqual(['file', 'file']);
  });

  it('follows a Kubernetes volume through ..data swaps (kubelet AtomicWriter)', async () => {
    const vol = join(dir, 'vol');
    kubeletWrite(vol, { 'keys.yaml': 'keys: []\n', 'policy.yaml': 'roles: {}\n' });
    const keys = join(vol, 'keys.yaml');
    const w = setup(dir, [keys, join(vol, 'policy.yaml')]);
    close = () => w.watcher.close();
    await w.follow();
    for (let i = 1; i <= 3; i++) {
      const oldTarget = readlinkSync(join(vol, '..data'));
      kubeletWrite(vol, { 'keys.yaml': `keys: [${i}]\n`, 'policy.yaml': 'roles: {}\n' });
      expect(readlinkSync(join(vol, '..data'))).not.toBe(oldTarget);
      expect(await w.nextChange()).toEqual([keys]);
      await w.follow();
    }
    // Someone edits the file behind the symlinks in place: the resolved directory is watched too.
    const real = join(vol, readlinkSync(join(vol, '..data')), 'keys.yaml');
    writeFileSync(real, 'keys: [edited]\n');
    expect(await w.nextChange()).toEqual([keys]);
  });

  it('finds a change with no file event by the periodic check (a directory that appears later)', async () => {
    const file = join(dir, 'later', 'keys.yaml');
    const w = setup(dir, [file], { debounce: 20, interval: 50 });
    close = () => w.watcher.close();
    await w.follow(); // the directory does not exist: nothing to watch yet
    mkdirSync(join(dir, 'later'));
    writeFileSync(file, 'keys: []\n');
    await waitFor(async () => w.checks.includes('interval') && (await w.watcher.changed()).length === 1);
  });

  it('never calls back after close', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys: []\n');
    const w = setup(dir, [file], { debounce: 0, interval: 10 });
    await w.follow();
    w.watcher.close();
    const count = w.checks.length;
    writeFileSync(file, 'keys: [1]\n');
    // A later watcher on the same file proves the event was delivered by now.
    const w2 = setup(dir, [file], { debounce: 0, interval: 60_000 });
    close = () => w2.watcher.close();
    await w2.follow();
    writeFileSync(file, 'keys: [2]\n');
    await w2.nextChange();
    expect(w.checks.length).toBe(count);
  });
});
