import { realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  FINGERPRINT_TIMEOUT_MS,
  FingerprintCache,
  fingerprintError,
  fingerprintFile,
  type Fingerprint,
  type SourceMetas,
  type Sources,
} from '../config/fingerprint.js';
import { fingerprintListing, isDirectorySource, keysFilesIn } from '../config/keysDirectory.js';

/** In a watched directory's names: every entry counts. */
const ANY_NAME = '*';

export interface WatchTiming {
  /** Quiet time after the last file event before checking (bursts of events make one check). */
  readonly debounce: number;
  /** Every this often the files are checked anyway: the safety net for events fs.watch never sent. */
  readonly interval: number;
}

export type CheckReason = 'file' | 'interval';

export interface ConfigWatcherOptions {
  readonly timing: WatchTiming;
  /** Something may have changed; call `changed()` to find out. Never called after `close()`. */
  readonly onCheck: (reason: CheckReason) => void;
}

interface DirWatch {
  readonly watcher: FSWatcher;
  /** The directory's inode when watched: a directory deleted and made again needs a new watch. */
  readonly ino: number;
  /** Entry names that matter here; anything starting with ".." is Kubernetes' ..data machinery. */
  readonly names: Set<string>;
}

/** Bursts longer than this many debounce periods are checked anyway, so constant writes cannot starve us. */
const MAX_WAIT_DEBOUNCES = 5;

/**
 * Follows config files the way they really change: editors writing in place, tools
 * writing a temp file and renaming it over, delete then re-create, and Kubernetes
 * volumes, where each file is a symlink into `..data/` and `..data` itself is swapped
 * to a new directory. fs.watch on a file follows one inode and goes deaf after a
 * rename, so this watches the directories (the one each path is in, and the one its
 * symlinks resolve to), and decides by content: `changed()` hashes every file and
 * compares with what the last load read. A periodic check catches whatever events
 * were missed.
 */
export class ConfigWatcher {
  readonly #onCheck: (reason: CheckReason) => void;
  readonly #dirs = new Map<string, DirWatch>();
  #timing: WatchTiming;
  #recorded: Sources = new Map();
  #debounceTimer: NodeJS.Timeout | undefined;
  #burstStarted: number | undefined;
  #intervalTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Files unchanged since they were last read are not read again on every check. */
  readonly #fingerprints = new FingerprintCache();

  constructor(options: ConfigWatcherOptions) {
    this.#onCheck = options.onCheck;
    this.#timing = options.timing;
    this.#startInterval();
  }

  /** The files to follow and what the last load found in each; re-arms the directory watches. */
  follow(sources: Sources, metas?: SourceMetas): void {
    this.#recorded = new Map(sources);
    this.#fingerprints.keepOnly(sources.keys());
    if (metas) this.#fingerprints.seed(sources, metas);
    this.#arm();
  }

  /** The followed files whose content differs from what the last load read (none: nothing to do). */
  async changed(): Promise<string[]> {
    const recorded = this.#recorded;
    const now = await Promise.all(
      [...recorded.keys()].map(async (file) => [file, await fingerprintSource(file, this.#fingerprints)] as const),
    );
    this.#arm(); // a Kubernetes swap replaced the directory a symlink resolves to
    return now.filter(([file, fp]) => recorded.get(file) !== fp).map(([file]) => file);
  }

  setTiming(timing: WatchTiming): void {
    const intervalChanged = timing.interval !== this.#timing.interval;
    this.#timing = timing;
    if (intervalChanged) this.#startInterval();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounceTimer);
    clearInterval(this.#intervalTimer);
    for (const d of this.#dirs.values()) d.watcher.close();
    this.#dirs.clear();
  }

  #startInterval(): void {
    clearInterval(this.#intervalTimer);
    if (this.#closed || !(this.#timing.interval > 0)) return; // 0 turns the safety net off
    this.#intervalTimer = setInterval(() => this.#onCheck('interval'), this.#timing.interval).unref();
  }

  /** Trailing-edge debounce, capped so a directory that never goes quiet is still checked. */
  #poke(): void {
    if (this.#closed) return;
    const now = Date.now();
    this.#burstStarted ??= now;
    clearTimeout(this.#debounceTimer);
    const { debounce } = this.#timing;
    const wait = Math.max(0, Math.min(debounce, this.#burstStarted + debounce * MAX_WAIT_DEBOUNCES - now));
    this.#debounceTimer = setTimeout(() => {
      this.#burstStarted = undefined;
      if (!this.#closed) this.#onCheck('file');
    }, wait).unref();
  }

  /** Makes the set of directory watches match the followed files; cheap when nothing moved. */
  #arm(): void {
    if (this.#closed) return;
    const wanted = watchedDirectories([...this.#recorded.keys()]);
    for (const [dir, d] of this.#dirs) {
      if (!wanted.has(dir) || inode(dir) !== d.ino) this.#unwatch(dir);
    }
    for (const [dir, names] of wanted) {
      const existing = this.#dirs.get(dir);
      if (existing) {
        existing.names.clear();
        names.forEach((n) => existing.names.add(n));
      } else this.#watchDir(dir, names);
    }
  }

  #watchDir(dir: string, names: Set<string>): void {
    const ino = inode(dir);
    if (ino === undefined) return; // not there (yet): the periodic check keeps looking
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false });
    } catch {
      return;
    }
    const entry: DirWatch = { watcher, ino, names };
    watcher.on('change', (_event, name) => {
      const file = name === null ? null : String(name);
      if (file === null || entry.names.has(file) || entry.names.has(ANY_NAME) || file.startsWith('..')) this.#poke();
    });
    // The directory went away (or the watch broke): drop it, look again soon.
    watcher.on('error', () => {
      this.#unwatch(dir, watcher);
      this.#poke();
    });
    this.#dirs.set(dir, entry);
  }

  #unwatch(dir: string, only?: FSWatcher): void {
    const d = this.#dirs.get(dir);
    if (!d || (only && d.watcher !== only)) return;
    d.watcher.close();
    this.#dirs.delete(dir);
  }
}

/**
 * For each file: its own directory (renames and ..data swaps happen there) and, when it
 * is a symlink, the directory of the file it resolves to (in-place edits happen there).
 */
function watchedDirectories(files: readonly string[]): Map<string, Set<string>> {
  const dirs = new Map<string, Set<string>>();
  const add = (path: string): void => {
    const dir = dirname(path);
    let names = dirs.get(dir);
    if (!names) dirs.set(dir, (names = new Set()));
    names.add(basename(path));
  };
  for (const file of files) {
    if (isDirectorySource(file)) add(`${file}${ANY_NAME}`); // a keys directory: files come and go in it
    add(file);
    const real = realpathOrUndefined(file);
    if (real !== undefined && real !== file) add(real);
  }
  return dirs;
}

/** A file's content, or a keys directory's list of keys files (as the loader recorded them). */
async function fingerprintSource(source: string, cache: FingerprintCache): Promise<Fingerprint> {
  if (!isDirectorySource(source)) return fingerprintFile(source, FINGERPRINT_TIMEOUT_MS, cache);
  try {
    return fingerprintListing(keysFilesIn(source.slice(0, -1)));
  } catch (e) {
    return fingerprintError(e);
  }
}

function realpathOrUndefined(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

function inode(dir: string): number | undefined {
  try {
    return statSync(dir).ino;
  } catch {
    return undefined;
  }
}
