import { rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatKey } from '../src/auth/keyFormat.js';
import { KeyVerifier } from '../src/auth/verifier.js';
import type { Snapshot } from '../src/config/snapshot.js';
import { authorize } from '../src/policy/decide.js';
import { readingsOf } from '../src/policy/pathReadings.js';
import { AsideLoader } from '../src/reload/asideLoader.js';
import { decodeSnapshot, encodeSnapshot } from '../src/reload/codec.js';
import { transferables } from '../src/keys/storeData.js';
import { exampleConfigWithKeys, keyIdFor, secretFor } from './largeKeysFile.js';

/*
 * Keys at scale, the way `keygate serve` holds them: the config is loaded by the load
 * worker (as at start-up and on every reload) and the key store handed over. For each
 * key count: load time, RSS after load, after traffic (verify + decide for a spread of
 * keys), after 1 and 5 reloads, and the main thread's longest event-loop stall during
 * a reload. Run: node --expose-gc --import tsx bench/keyScale.ts [counts…]
 * (default 10000 100000). The worker runs dist/: `npm run build` first.
 */

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
const counts = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);

/** RSS once the worker has stopped (its heap is given back with it) and the main heap is collected. */
async function settledRss(): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  gc();
  return +(process.memoryUsage().rss / MiB).toFixed(1);
}

async function traffic(snapshot: Snapshot, n: number): Promise<void> {
  const verifier = new KeyVerifier();
  const segments = ['v2', 'p1', 'servers', '42'];
  const req = {
    region: snapshot.region,
    service: 'compute',
    method: 'GET',
    segments,
    readings: readingsOf(segments),
    clientIp: '10.1.2.3',
    now: Date.now(),
  };
  for (let i = 0; i < 20_000; i++) {
    const k = (i * 7919) % n;
    const verified = await verifier.verify(snapshot.keys, formatKey(keyIdFor(k), secretFor(k)));
    if (!verified.ok || !authorize(snapshot, verified.key, req).allow) throw new Error(`key ${k} was not allowed: the bench is broken`);
  }
}

async function measure(n: number): Promise<Record<string, number>> {
  const { dir, mainFile } = exampleConfigWithKeys(n);
  const loader = new AsideLoader({ idleMs: 1 });
  const env = { ...process.env };
  try {
    gc();
    const t0 = performance.now();
    const first = await loader.load(mainFile, { generation: 1, env });
    const loadMs = performance.now() - t0;
    if (!first.ok)
      throw new Error(
        `load failed: ${first.errors
          .slice(0, 3)
          .map((e) => e.message)
          .join('; ')}`,
      );
    let snapshot = first.snapshot;
    const afterLoad = await settledRss();
    await traffic(snapshot, n);
    const afterTraffic = await settledRss();
    const stall = monitorEventLoopDelay({ resolution: 1 });
    const rssAfter: number[] = [];
    let reloadMs = 0;
    for (let i = 0; i < 5; i++) {
      stall.enable();
      const t = performance.now();
      const next = await loader.load(mainFile, { generation: i + 2, env });
      reloadMs = performance.now() - t;
      stall.disable();
      if (!next.ok) throw new Error('reload failed');
      snapshot = next.snapshot; // the swap: the old snapshot is garbage from here on
      rssAfter.push(await settledRss());
    }
    if (snapshot.keys.size !== n + 3) throw new Error('wrong key count');
    // The main thread's share of a reload, alone: receiving the transferred store and rebuilding the small rest.
    const encoded = encodeSnapshot(snapshot);
    const received = structuredClone(encoded, { transfer: transferables(encoded.keys) });
    const t1 = performance.now();
    decodeSnapshot(received);
    const mainShareMs = performance.now() - t1;
    return {
      keys: n,
      loadMs: Math.round(loadMs),
      rssAfterLoadMiB: afterLoad,
      rssAfterTrafficMiB: afterTraffic,
      rssAfter1ReloadMiB: rssAfter[0],
      rssAfter5ReloadsMiB: rssAfter[4],
      reloadMs: Math.round(reloadMs),
      reloadStallMaxMs: +(stall.max / 1e6).toFixed(1),
      mainThreadShareMs: +mainShareMs.toFixed(2),
      heapUsedMiB: +(process.memoryUsage().heapUsed / MiB).toFixed(1),
    };
  } finally {
    await loader.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
for (const n of counts.length ? counts : [10_000, 100_000]) rows.push(await measure(n));
console.table(rows);
