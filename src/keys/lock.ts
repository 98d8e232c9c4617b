import { closeSync, linkSync, lstatSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ioError, KeysFileError } from './errors.js';

/* One writer at a time: `<keys file>.lock`, created with O_EXCL, holding pid and host. */

interface LockHolder {
  text: string;
  pid: number;
  host: string;
  ageMs: number;
}

/** A lock file still empty after this long belongs to a writer that died between create and write. */
const EMPTY_LOCK_STALE_MS = 10_000;

/** Takes `<file>.lock` (O_EXCL, holding pid and host); breaks it if its holder is dead; returns the release. */
export async function acquireLock(file: string, timeoutMs: number): Promise<() => void> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 80)) {
    if (tryCreateLock(lock)) return () => releaseLock(lock);
    const holder = readHolder(lock);
    const broken = holder !== undefined && isStale(holder) && breakLock(lock, holder);
    if (Date.now() >= deadline) throw lockedError(file, lock, holder);
    if (!broken) await sleep(delay + Math.random() * delay);
  }
}

function tryCreateLock(lock: string): boolean {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(`cannot create lock file ${lock}`, e);
  }
  try {
    writeSync(fd, `${process.pid}\n${hostname()}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** undefined: the lock vanished meanwhile (retry at once). */
function readHolder(lock: string): LockHolder | undefined {
  try {
    const text = readFileSync(lock, 'utf8');
    const [pid, host] = text.split('\n');
    // A lock written by hand (or by an older tool) may hold only a pid: take it as ours.
    return {
      text,
      pid: pid.trim() === '' ? NaN : Number(pid),
      host: host?.trim() || hostname(),
      ageMs: Date.now() - lstatSync(lock).mtimeMs,
    };
  } catch {
    return undefined;
  }
}

function isStale(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return holder.ageMs > EMPTY_LOCK_STALE_MS;
  if (holder.host !== hostname()) return false; // cannot tell whether a process elsewhere is alive
  return !processAlive(holder.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves the stale lock aside instead of unlinking it: if another process broke it and
 * took a fresh lock in between, we would otherwise delete that live lock. If the moved
 * file turns out to be someone's fresh lock, it is linked back (link fails if taken).
 */
function breakLock(lock: string, holder: LockHolder): boolean {
  const aside = `${lock}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return false; // someone else moved it first
  }
  const moved = readHolder(aside);
  const wasStale = moved !== undefined && moved.text === holder.text && Math.abs(moved.ageMs - holder.ageMs) < 1_000;
  if (!wasStale) {
    try {
      linkSync(aside, lock);
    } catch {
      // taken again meanwhile; that writer holds it now
    }
  }
  rmSync(aside, { force: true });
  return wasStale;
}

function releaseLock(lock: string): void {
  const holder = readHolder(lock);
  if (holder?.pid === process.pid && holder.host === hostname()) unlinkSync(lock);
}

function lockedError(file: string, lock: string, holder: LockHolder | undefined): KeysFileError {
  const who =
    holder && holder.pid > 0 ? `process ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''}` : 'another process';
  return new KeysFileError(
    'KEYGATE_KEYS_LOCKED',
    `${file} is being edited by ${who} (lock file ${lock}); try again. If no keygate command is running, delete the lock file.`,
  );
}
