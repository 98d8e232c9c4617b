import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

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

/**
 * The same fingerprint as `fingerprintBytes`, read in 64 KiB chunks so hashing a
 * 20 MB keys file never holds the event loop for more than one chunk.
 */
export function fingerprintFile(file: string): Promise<Fingerprint> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', (e) => resolve(fingerprintError(e)));
    stream.on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}
