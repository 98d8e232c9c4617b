import {
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { readRegularFile } from '../config/regularFile.js';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ioError, KeysFileError } from './errors.js';
import { acquireLock } from './lock.js';

/* The write of a keys-file edit: under a lock file, re-read, edit, write a temp file, fsync, rename. */

export interface EditOptions {
  /** How long to wait for another writer's lock before giving up. */
  lockTimeoutMs?: number;
}

/**
 * Runs `edit` on the current text of `file` while holding `<file>.lock`, and writes
 * its result atomically. `edit` returns undefined for "nothing to change" and throws
 * to abort (nothing is written). Returns whether the file was written.
 */
export async function editKeysFile(
  file: string,
  edit: (current: string) => string | undefined,
  options: EditOptions = {},
): Promise<boolean> {
  refuseSymlink(file);
  const release = await acquireLock(file, options.lockTimeoutMs ?? 2_000);
  try {
    // Re-read under the lock: another writer may have finished since the caller looked.
    refuseSymlink(file);
    const current = readText(file);
    const next = edit(current);
    if (next === undefined || next === current) return false;
    writeAtomic(file, next);
    return true;
  } finally {
    release();
  }
}

/**
 * Applies `edit` to one keys file under its lock and writes the result only if
 * `validate` accepts the new text (it throws to refuse; the caller checks that the
 * whole configuration still loads). Returns what `validate` returned, or undefined
 * when the edit changed nothing.
 */
export async function writeValidated<T>(
  file: string,
  edit: (current: string) => string | undefined,
  validate: (next: string) => T,
  options: EditOptions = {},
): Promise<T | undefined> {
  let after: T | undefined;
  await editKeysFile(
    file,
    (current) => {
      const next = edit(current);
      if (next !== undefined && next !== current) after = validate(next);
      return next;
    },
    options,
  );
  return after;
}

/** A symlinked keys file is a Kubernetes ConfigMap/Secret volume (or similar): replaced whole, read-only. */
export function refuseSymlink(file: string): void {
  let target: string;
  try {
    if (!lstatSync(file).isSymbolicLink()) return;
    target = readlinkSync(file);
  } catch (e) {
    throw ioError(`cannot read ${file}`, e);
  }
  throw new KeysFileError(
    'KEYGATE_KEYS_SYMLINK',
    `${file} is a symbolic link (-> ${target}), as in a Kubernetes ConfigMap or Secret volume; ` +
      'such files are read-only and replaced as a whole, so keygate will not write through the link. ' +
      'Run the key command on the source copy of the file and update the ConfigMap/Secret from it.',
  );
}

function readText(file: string): string {
  try {
    return readRegularFile(file).toString('utf8');
  } catch (e) {
    throw ioError(`cannot read ${file}`, e);
  }
}

/** Same directory, so the rename is atomic; same mode (and owner, when root), so a proxy can still read it. */
export function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      copyOwnership(file, fd);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(`cannot write ${file}`, e);
  }
  syncDirectory(dirname(file));
}

function copyOwnership(file: string, fd: number): void {
  const old = lstatSync(file);
  fchmodSync(fd, old.mode & 0o7777);
  if (process.getuid?.() === 0 && fstatSync(fd).uid !== old.uid) fchownSync(fd, old.uid, old.gid);
}

/** Makes the rename itself durable; not every platform lets a directory be fsynced. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
