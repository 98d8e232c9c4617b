import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';

/**
 * Projects `payload` (file name → content) into `targetDir` the way kubelet updates a
 * ConfigMap or Secret volume: Kubernetes pkg/volume/util/atomic_writer.go, Write(),
 * v1.30, top-level files only. Each visible file is a symlink `name -> ..data/name`;
 * `..data` is a symlink to a timestamped directory and is swapped by a rename.
 */
export function kubeletWrite(targetDir: string, payload: Readonly<Record<string, string>>, mode = 0o644): void {
  mkdirSync(targetDir, { recursive: true });
  // (1) validate: no absolute paths, nothing starting with "..", top level only here
  for (const name of Object.keys(payload)) {
    if (name.startsWith('..') || name.includes('/') || name === '') throw new Error(`invalid payload path ${name}`);
  }
  // (2) the current timestamped directory
  const dataDirPath = join(targetDir, DATA_DIR);
  const oldTsDir = readlinkOrEmpty(dataDirPath);
  const oldTsPath = join(targetDir, oldTsDir);
  let pathsToRemove: string[] = [];
  if (oldTsDir !== '') {
    // (3) paths of the old version that the new payload no longer has
    pathsToRemove = readdirSync(oldTsPath).filter((p) => !(p in payload));
    // (4) nothing to do when every file is already there with the same bytes
    const same = Object.entries(payload).every(
      ([name, content]) => existsSync(join(oldTsPath, name)) && readFileSync(join(oldTsPath, name), 'utf8') === content,
    );
    if (same && pathsToRemove.length === 0) return;
  }
  // (5) a new timestamped directory, 0755 whatever the umask
  const tsDir = mkdtempSync(join(targetDir, `..${goTimestamp(new Date())}.`));
  chmodSync(tsDir, 0o755);
  const tsDirName = basename(tsDir);
  // (6) the payload, each file chmod-ed to its mode
  for (const [name, content] of Object.entries(payload)) {
    writeFileSync(join(tsDir, name), content, { mode });
    chmodSync(join(tsDir, name), mode);
  }
  // (8) ..data_tmp -> the new directory (relative)
  const newDataDirPath = join(targetDir, NEW_DATA_DIR);
  symlinkSync(tsDirName, newDataDirPath);
  // (9) the atomic swap
  renameSync(newDataDirPath, dataDirPath);
  // (10) user-visible symlinks for new files
  for (const name of Object.keys(payload)) {
    if (readlinkOrEmpty(join(targetDir, name)) === '' && !lstatExists(join(targetDir, name)))
      symlinkSync(join(DATA_DIR, name), join(targetDir, name));
  }
  // (11) user-visible paths no longer in the payload
  for (const p of pathsToRemove) unlinkSync(join(targetDir, p));
  // (12) the previous timestamped directory
  if (oldTsDir !== '') rmSync(oldTsPath, { recursive: true, force: true });
}

/** Go's time.Format("2006_01_02_15_04_05") in UTC, as kubelet names its directories. */
function goTimestamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
