import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintBytes, type Fingerprint } from './fingerprint.js';

/*
 * A `keys:` entry ending in "/" names a directory: every `*.yaml` (or `*.yml`) file in it is a keys
 * file, in name order. Names starting with "." are skipped: Kubernetes keeps its
 * `..data` machinery there, editors their swap files. A load records the directory as
 * a source under `<dir>/` with the list of names, so a file that comes or goes is a
 * change the watcher sees (each file's content is recorded on its own).
 */

const KEYS_FILE = /^[^.].*\.ya?ml$/;

/** The source name of a keys directory (a directory path with a trailing slash). */
export function directorySource(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

export function isDirectorySource(source: string): boolean {
  return source.endsWith('/');
}

/** The keys files of a directory, sorted by name (throws like readdirSync when it cannot be listed). */
export function keysFileNames(dir: string): string[] {
  return readdirSync(dir).filter((name) => KEYS_FILE.test(name)).sort();
}

export function keysFilesIn(dir: string): string[] {
  return keysFileNames(dir).map((name) => join(dir, name));
}

export function fingerprintListing(names: readonly string[]): Fingerprint {
  return `dir:${fingerprintBytes(Buffer.from(names.join('\n'))).slice('sha256:'.length)}`;
}
