import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeysFileErrorCode } from '../../../src/keys/errors.js';
import { acquireLock } from '../../../src/keys/lock.js';
import { editKeysFile } from '../../../src/keys/atomicWrite.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-write-'));
  file = join(dir, 'keys.yaml');
  writeFileSync(file, 'keys: []\n');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const code = (e: unknown): KeysFileErrorCode | undefined => (e as { code?: KeysFileErrorCode }).code;
const append =
  (line: string) =>
  (current: string): string =>
    `${current}# ${line}\n`;

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('editKeysFile', () => {
  it('replaces the file by rename and leaves no temp or lock file behind', async () => {
    const inode = statSync(file).ino;
    expect(await editKeysFile(file, append('one'))).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('keys: []\n# one\n');
    expect(statSync(file).ino).not.toBe(inode);
    expect(readdirSync(dir)).toEqual(['keys.yaml']);
  });

  it('keeps the file mode', async () => {
    chmodSync(file, 0o640);
    await editKeysFile(file, append('one'));
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('does not write when the edit changes nothing', async () => {
    const inode = statSync(file).ino;
    expect(await editKeysFile(file, () => undefined)).toBe(false);
    expect(await editKeysFile(file, (current) => current)).toBe(false);
    expect(statSync(file).ino).toBe(inode);
  });

  it('writes nothing and releases the lock when the edit throws', async () => {
    const refused = new Error('invalid');
    await expect(
      editKeysFile(file, () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(readFileSync(file, 'utf8')).toBe('keys: []\n');
    expect(readdirSync(dir)).toEqual(['keys.yaml']);
  });

  it('serialises concurrent edits: every one of them lands', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => editKeysFile(file, append(`edit ${i}`))));
    const text = readFileSync(file, 'utf8');
    for (let i = 0; i < 20; i++) expect(text).toContain(`# edit ${i}\n`);
  });

  it('refuses a symlinked file (a Kubernetes volume) and touches nothing', async () => {
    mkdirSync(join(dir, '..data'));
    writeFileSync(join(dir, '..data', 'keys.yaml'), 'keys: []\n');
    rmSync(file);
    symlinkSync('..data/keys.yaml', file);
    const err = await editKeysFile(file, append('x')).catch((e: unknown) => e);
    expect(code(err)).toBe('KEYGATE_KEYS_SYMLINK');
    expect(String(err)).toMatch(/symbolic link .*Kubernetes/);
    expect(readFileSync(join(dir, '..data', 'keys.yaml'), 'utf8')).toBe('keys: []\n');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('reports a missing file', async () => {
    rmSync(file);
    const err = await editKeysFile(file, append('x')).catch((e: unknown) => e);
    expect(code(err)).toBe('KEYGATE_KEYS_IO');
  });
});

describe('the lock file', () => {
  it('holds the pid and host of its owner and is removed on release', async () => {
    const release = await acquireLock(file, 100);
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
    release();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('gives up after the timeout with a clear error while a live process holds it', async () => {
    writeFileSync(`${file}.lock`, `${process.ppid}\n${hostname()}\n`);
    const started = Date.now();
    const err = await editKeysFile(file, append('x'), { lockTimeoutMs: 150 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(code(err)).toBe('KEYGATE_KEYS_LOCKED');
    expect(String(err)).toContain(`process ${process.ppid}`);
    expect(String(err)).toContain(`${file}.lock`);
    expect(readFileSync(file, 'utf8')).toBe('keys: []\n');
    expect(existsSync(`${file}.lock`)).toBe(true);
  });

  it('breaks the lock of a process that has died', async () => {
    writeFileSync(`${file}.lock`, `${deadPid()}\n${hostname()}\n`);
    expect(await editKeysFile(file, append('after crash'), { lockTimeoutMs: 150 })).toBe(true);
    expect(readdirSync(dir)).toEqual(['keys.yaml']);
  });

  it('reads a lock that holds only a pid as a lock of this host', async () => {
    writeFileSync(`${file}.lock`, `${process.ppid}\n`);
    const err = await editKeysFile(file, append('x'), { lockTimeoutMs: 50 }).catch((e: unknown) => e);
    expect(String(err)).toContain(`being edited by process ${process.ppid} (lock file`);
    writeFileSync(`${file}.lock`, String(deadPid()));
    expect(await editKeysFile(file, append('x'), { lockTimeoutMs: 50 })).toBe(true);
  });

  it('never breaks a lock held on another host (it cannot tell whether that process lives)', async () => {
    writeFileSync(`${file}.lock`, `${deadPid()}\nsome-other-host\n`);
    const err = await editKeysFile(file, append('x'), { lockTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(code(err)).toBe('KEYGATE_KEYS_LOCKED');
    expect(String(err)).toContain('on some-other-host');
  });

  it('breaks an empty lock only once it is old (its writer died before writing its pid)', async () => {
    writeFileSync(`${file}.lock`, '');
    expect(code(await editKeysFile(file, append('x'), { lockTimeoutMs: 100 }).catch((e: unknown) => e))).toBe('KEYGATE_KEYS_LOCKED');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    expect(await editKeysFile(file, append('x'), { lockTimeoutMs: 100 })).toBe(true);
  });
});
