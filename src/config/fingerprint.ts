import { createHash } from 'node:crypto';
import { openRegularFile } from './regularFile.js';

/**
 * What a config file contained when it was read: `sha256:<hex>` of its bytes (symlinks
 * followed), or `error:<code>` when it could not be read. The loader records one per
 * file it read; the watcher compares the files on disk against them, so a touch that
 * changes nothing never reloads and a change missed by fs.watch is still found.
 */
export type Fingerprint = string;

/** Every file a load read or tried to read, with what it found there. */
export type Sources = ReadonlyMap<string, Fingerprint>;

export function fingerprintBytes(bytes: Uint8Array): Fingerprint {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function fingerprintError(e: unknown): Fingerprint {
  return `error:${(e as NodeJS.ErrnoException).code ?? 'EIO'}`;
}

/** Longest a file may take to fingerprint: a stuck read (a hung network mount) must not stall every later check. */
export const FINGERPRINT_TIMEOUT_MS = 5_000;

/**
 * The same fingerprint as `fingerprintBytes`, read in 64 KiB chunks so hashing a
 * 20 MB keys file never holds the event loop for more than one chunk. Only a regular
 * file is read (anything else is `error:ENOTREG`); past `timeoutMs` the answer is
 * `error:ETIMEDOUT`, so a pass over all files always ends.
 */
export function fingerprintFile(file: string, timeoutMs = FINGERPRINT_TIMEOUT_MS): Promise<Fingerprint> {
  return new Promise((resolve) => {
    let settled = false;
    let stop = (): void => undefined;
    const done = (fingerprint: Fingerprint): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      resolve(fingerprint);
    };
    const timer = setTimeout(() => done('error:ETIMEDOUT'), timeoutMs);
    timer.unref();
    openRegularFile(file).then((handle) => {
      const stream = handle.createReadStream({ highWaterMark: 64 * 1024 });
      if (settled) return void stream.destroy();
      stop = () => stream.destroy();
      const hash = createHash('sha256');
      stream.on('data', (chunk) => hash.update(chunk));
      stream.on('error', (e) => done(fingerprintError(e)));
      stream.on('end', () => done(`sha256:${hash.digest('hex')}`));
    }, (e: unknown) => done(fingerprintError(e)));
  });
}
