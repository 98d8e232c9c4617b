import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from '../keys/lock.js';
import { checkedUse, mergeInto, type UsageMap } from './keyUse.js';
import type { UsageStore } from './store.js';

export const USAGE_FILE = 'key-usage.json';
const FORMAT = 'keygate-key-usage/1';
/** A file this large is not one keygate wrote (100,000 keys take about 5 MB). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Key usage in a file of the state directory: `{ format, keys: { ID: [usedMinute,
 * deniedMinute, client] } }`. Every writer (each proxy or `--workers` worker sharing the
 * directory) merges under `<file>.lock`: read, merge newest-wins, write a temp file, rename.
 * So no writer ever drops another's uses.
 */
export class FileUsageStore implements UsageStore {
  readonly file: string;
  readonly where: string;

  constructor(
    readonly dir: string,
    readonly flushMs = 60_000,
  ) {
    this.file = join(dir, USAGE_FILE);
    this.where = this.file;
  }

  read(): Promise<UsageMap> {
    return readUsageFile(this.file);
  }

  async merge(changes: UsageMap): Promise<UsageMap> {
    await mkdir(this.dir, { recursive: true });
    const release = await acquireLock(this.file, 5_000);
    try {
      const state = mergeInto(await readUsageFile(this.file), changes);
      await writeAtomically(this.file, encodeUsage(state));
      return state;
    } finally {
      release();
    }
  }

  async close(): Promise<void> {}
}

/** Whether the state directory can be created and written; the reason when not. */
export async function stateDirProblem(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** The file's usage; a missing file is no usage yet, a damaged one is treated as empty (it is rewritten whole). */
export async function readUsageFile(file: string): Promise<UsageMap> {
  let text: string;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || stat.size > MAX_FILE_BYTES) return new Map();
      text = await readFile(handle, 'utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  return decodeUsage(text);
}

export function decodeUsage(text: string): UsageMap {
  const out: UsageMap = new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof keys !== 'object' || keys === null) return out;
  for (const [id, value] of Object.entries(keys)) {
    if (!Array.isArray(value)) continue;
    const entry = checkedUse(id, value[0], value[1], value[2]);
    if (entry) out.set(entry[0], entry[1]);
  }
  return out;
}

export function encodeUsage(state: UsageMap): string {
  const keys: Record<string, [number, number, string]> = Object.create(null) as Record<string, [number, number, string]>;
  for (const [id, u] of state) keys[id] = [u.used, u.denied, u.client];
  return `${JSON.stringify({ format: FORMAT, keys })}\n`;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
