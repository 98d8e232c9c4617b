import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { writeLargeKeysFile } from './largeKeysFile.js';

/*
 * Start-up load of a big keys file: loadConfig wall time, heap after GC and RSS with
 * the snapshot alive. Run: node --expose-gc --import tsx bench/loadLargeKeys.ts [count]
 */

const count = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'keygate-loadbench-'));
const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

try {
  writeFileSync(
    join(dir, 'keygate.yaml'),
    `region: eu-west-1
listen: { proxy: 127.0.0.1:0, admin: 127.0.0.1:0 }
services:
  - { name: compute, route: { pathPrefix: /compute }, upstream: http://127.0.0.1:3000 }
policy: ./policy.yaml
keys: [./keys.yaml]
`,
  );
  writeFileSync(
    join(dir, 'policy.yaml'),
    'roles:\n  reader: [{ service: "*", method: read, path: "/**" }]\nusers:\n  joe: { roles: [reader] }\n',
  );
  writeLargeKeysFile(join(dir, 'keys.yaml'), count);
  gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const result = loadConfig(join(dir, 'keygate.yaml'));
  const ms = performance.now() - t0;
  if (!result.ok)
    throw new Error(
      `load failed: ${result.errors
        .slice(0, 3)
        .map((e) => `${e.line}:${e.col} ${e.message}`)
        .join('; ')}`,
    );
  const peakRss = process.resourceUsage().maxRSS / 1024;
  gc?.();
  const after = process.memoryUsage();
  const keys = result.snapshot.keys.size;
  console.log(
    JSON.stringify({
      keys,
      loadMs: Math.round(ms),
      heapUsedMiB: +(after.heapUsed / MiB).toFixed(1),
      heapPerKeyBytes: Math.round((after.heapUsed - before.heapUsed) / keys),
      externalMiB: +(after.external / MiB).toFixed(1),
      rssMiB: +(after.rss / MiB).toFixed(1),
      peakRssMiB: +peakRss.toFixed(1),
      gcAvailable: gc !== undefined,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
