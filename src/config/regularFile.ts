import { closeSync, constants, fstatSync, openSync, readFileSync, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Config, keys and token files are read only when they are regular files. Each is opened
 * non-blocking (opening a FIFO for reading otherwise waits for a writer, forever) and its
 * type checked on the open descriptor before a byte is read, so a FIFO, a directory or a
 * device swapped in for keys.yaml is a read error naming the file, never a stuck reload.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export function readRegularFile(file: string): Buffer {
  return readRegularFileAndStats(file).bytes;
}

/** The file's bytes and its metadata, from the same descriptor (so they describe the same file). */
export function readRegularFileAndStats(file: string): { bytes: Buffer; stats: BigIntStats } {
  const fd = openSync(file, OPEN_FLAGS);
  try {
    const stats = fstatSync(fd, { bigint: true });
    requireRegular(file, stats);
    return { bytes: readFileSync(fd), stats };
  } finally {
    closeSync(fd);
  }
}

/** The same checks for an asynchronous reader; the caller closes the handle. */
export async function openRegularFile(file: string): Promise<FileHandle> {
  return (await openRegularFileAndStats(file)).handle;
}

/** As openRegularFile, with the metadata the check read (so they describe the same file). */
export async function openRegularFileAndStats(file: string): Promise<{ handle: FileHandle; stats: BigIntStats }> {
  const handle = await open(file, OPEN_FLAGS);
  try {
    const stats = await handle.stat({ bigint: true });
    requireRegular(file, stats);
    return { handle, stats };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

function requireRegular(file: string, stats: BigIntStats): void {
  if (stats.isFile()) return;
  throw Object.assign(new Error(`${file} is not a regular file (${kindOf(stats)})`), { code: 'ENOTREG' });
}

function kindOf(stats: BigIntStats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** How a failed read is told in a message: the reason for a file of the wrong type, else the errno code. */
export function readFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOTREG' ? err.message : err.code ?? String(e);
}
