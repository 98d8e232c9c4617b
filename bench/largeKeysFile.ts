import { createHash } from 'node:crypto';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Keys written per write(2): a million-key file (~200 MB) is never one string in memory. */
const KEYS_PER_WRITE = 10_000;

/**
 * Writes a keys file of `count` generated keys, each with a fast sha256 hash and one
 * allow rule, owned by `user`. Returns the key ids in file order. The secrets are
 * derived from the index (`secretFor`) so a benchmark can present any of them.
 */
export function writeLargeKeysFile(file: string, count: number, user = 'joe', service = 'compute'): string[] {
  const ids: string[] = [];
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, 'keys:\n');
    let lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = keyIdFor(i);
      ids.push(id);
      const digest = createHash('sha256').update(secretFor(i)).digest('base64url');
      lines.push(
        `  - id: ${id}`,
        `    user: ${user}`,
        `    name: bench-${i}`,
        `    hash: "sha256$${digest}"`,
        '    allow:',
        `      - { service: ${service}, method: read, path: "/v2/*/servers/**" }`,
      );
      if (lines.length >= KEYS_PER_WRITE * 6 || i === count - 1) {
        writeSync(fd, `${lines.join('\n')}\n`);
        lines = [];
      }
    }
    if (count === 0) writeSync(fd, '  []\n');
  } finally {
    closeSync(fd);
  }
  return ids;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A 12-character base62 id, unique per index, that never collides with the demo keys. */
export function keyIdFor(i: number): string {
  let out = '';
  let n = i;
  for (let k = 0; k < 10; k++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return `BK${out}`;
}

/** The 43-character secret of key `i`. */
export function secretFor(i: number): string {
  const hex = createHash('sha256').update(`keygate-bench-${i}`).digest('hex');
  let out = '';
  for (let k = 0; out.length < 43; k++) out += BASE62[parseInt(hex.slice((k * 2) % 64, ((k * 2) % 64) + 2), 16) % 62];
  return out;
}

/**
 * A copy of the example config (config/) in a temp dir with `count` generated keys added
 * in large-keys.yaml: for benches that load it in process (no listener is opened).
 */
export function exampleConfigWithKeys(count: number): { dir: string; mainFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'));
  cpSync(resolve(import.meta.dirname, '../config'), dir, { recursive: true });
  writeLargeKeysFile(join(dir, 'large-keys.yaml'), count);
  const mainFile = join(dir, 'keygate.yaml');
  writeFileSync(mainFile, readFileSync(mainFile, 'utf8').replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./large-keys.yaml]'));
  return { dir, mainFile };
}
