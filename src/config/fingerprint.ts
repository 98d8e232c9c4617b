import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { openRegularFileAndStats } from './regularFile.js';

/**
 * What a config file contained when it was read: `sha256:<hex>` of its bytes (symlinks
 * followed), or `error:<code>` when it could not be read. The loader records one per
 * file it read; the watcher compares the files on disk against them, so a touch that
 * changes nothing never reloads and a change missed by fs.watch is still found.
 */
export type Fingerprint = string;

/** Every file a load read or tried to read, with what it found there. */
export type Sources = ReadonlyMap<string, Fingerprint>;

/**
 * A file's ctime must be at least this much older than the moment it was read before
 * its fingerprint is reused on unchanged metadata: a write within a coarse timestamp's
 * tick (whole seconds on some filesystems) could otherwise leave size and times equal.
 */
const RACY_MARGIN_NS = 2_000_000_000n;

/**
 * The metadata (fileMeta) each file had when a load read it, for the files whose content
 * was settled then (stable): the watcher takes their fingerprints as known without
 * reading them again.
 */
export type SourceMetas = ReadonlyMap<string, string>;

/** Device, inode, size, mtime and ctime: what changes when a file's content may have. */
export function fileMeta(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** Whether a file last changed (ctime) well before it was read, so its metadata can stand for its content. */
export function stable(stats: BigIntStats, readStartedNs: bigint, racyMarginNs = RACY_MARGIN_NS): boolean {
  return stats.ctimeNs + racyMarginNs < readStartedNs;
}

/** Now, as file times count (ns since the epoch), for `stable`. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function fingerprintBytes(bytes: Uint8Array): Fingerprint {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function fingerprintError(e: unknown): Fingerprint {
  return `error:${(e as NodeJS.ErrnoException).code ?? 'EIO'}`;
}

/** Longest a file may take to fingerprint: a stuck read (a hung network mount) must not stall every later check. */
export const FINGERPRINT_TIMEOUT_MS = 5_000;

/**
 * Fingerprints of files read before, by path, with the metadata the file had when read.
 * A file whose device, inode, size, mtime and ctime are all unchanged is not read again:
 * the periodic check and every reload would otherwise read and hash the whole keys file
 * on the main thread (20 MB at 100,000 keys), for the garbage collector to clean up.
 * Any write (and any touch) changes ctime, which nothing can set back, so a changed file
 * is always read. (The rule git uses for its index, "racily clean" entries included.)
 */
export class FingerprintCache {
  readonly #entries = new Map<string, { readonly meta: string; readonly fingerprint: Fingerprint }>();
  readonly #racyMarginNs: bigint;
  /** Answers given without reading the file. */
  hits = 0;

  constructor(racyMarginNs = RACY_MARGIN_NS) {
    this.#racyMarginNs = racyMarginNs;
  }

  /** Forgets every file not in `files`. */
  keepOnly(files: Iterable<string>): void {
    const keep = new Set(files);
    for (const file of this.#entries.keys()) if (!keep.has(file)) this.#entries.delete(file);
  }

  get(file: string, meta: string): Fingerprint | undefined {
    const entry = this.#entries.get(file);
    if (entry?.meta !== meta) return undefined;
    this.hits++;
    return entry.fingerprint;
  }

  /** Records what a file read at `readStartedNs` contained; only once its content has settled (`stable`). */
  set(file: string, stats: BigIntStats, fingerprint: Fingerprint, readStartedNs: bigint): void {
    if (stable(stats, readStartedNs, this.#racyMarginNs)) this.#entries.set(file, { meta: fileMeta(stats), fingerprint });
    else this.#entries.delete(file);
  }

  /** What a load read (its fingerprints, and the metadata of the files that were stable then). */
  seed(sources: Sources, metas: SourceMetas): void {
    for (const [file, meta] of metas) {
      const fingerprint = sources.get(file);
      if (fingerprint?.startsWith('sha256:')) this.#entries.set(file, { meta, fingerprint });
    }
  }
}

/**
 * The same fingerprint as `fingerprintBytes`, read in 64 KiB chunks so hashing a
 * 20 MB keys file never holds the event loop for more than one chunk. Only a regular
 * file is read (anything else is `error:ENOTREG`); past `timeoutMs` the answer is
 * `error:ETIMEDOUT`, so a pass over all files always ends. With a `cache`, a file whose
 * metadata is unchanged since it was last read is answered without reading it.
 */
export function fingerprintFile(file: string, timeoutMs = FINGERPRINT_TIMEOUT_MS, cache?: FingerprintCache): Promise<Fingerprint> {
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
    const readStartedNs = nowNs();
    openRegularFileAndStats(file).then(
      async ({ handle, stats }) => {
        const known = cache?.get(file, fileMeta(stats));
        if (known !== undefined) done(known);
        if (settled) return void (await handle.close().catch(() => undefined));
        const stream = handle.createReadStream({ highWaterMark: 64 * 1024 });
        stop = () => stream.destroy();
        const hash = createHash('sha256');
        stream.on('data', (chunk) => hash.update(chunk));
        stream.on('error', (e) => done(fingerprintError(e)));
        stream.on('end', () => {
          const fingerprint: Fingerprint = `sha256:${hash.digest('hex')}`;
          cache?.set(file, stats, fingerprint, readStartedNs);
          done(fingerprint);
        });
      },
      (e: unknown) => done(fingerprintError(e)),
    );
  });
}
