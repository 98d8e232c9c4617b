import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/observability/requestRecord.js';
import { FileUsageStore, decodeUsage, encodeUsage, readUsageFile } from '../../../src/usage/fileStore.js';
import { UsageKeeper } from '../../../src/usage/keeper.js';
import { mergeUse, type UsageMap } from '../../../src/usage/keyUse.js';
import { UsageRecorder } from '../../../src/usage/recorder.js';
import type { UsageStore } from '../../../src/usage/store.js';

const MIN = 60_000;

function record(keyId: string | undefined, user: string | undefined, decision: 'allow' | 'deny', clientIp = '10.0.0.1'): RequestRecord {
  const r = new RequestRecord('proxy', 'req-1', 'GET', '/x', clientIp);
  r.keyId = keyId;
  r.user = user;
  r.decision = decision;
  return r;
}

describe('mergeUse', () => {
  it.each([
    [
      'newest minute of each kind wins',
      { used: 5, denied: 9, client: 'a' },
      { used: 7, denied: 2, client: 'b' },
      { used: 7, denied: 9, client: 'a' },
    ],
    [
      'the client goes with the newest use',
      { used: 5, denied: 0, client: 'a' },
      { used: 6, denied: 0, client: 'b' },
      { used: 6, denied: 0, client: 'b' },
    ],
    [
      'an older write never takes anything back',
      { used: 8, denied: 8, client: 'a' },
      { used: 3, denied: 1, client: 'b' },
      { used: 8, denied: 8, client: 'a' },
    ],
    [
      'on a tie the later write names the client',
      { used: 4, denied: 0, client: 'a' },
      { used: 4, denied: 0, client: 'b' },
      { used: 4, denied: 0, client: 'b' },
    ],
  ])('%s', (_name, into, from, merged) => {
    expect(mergeUse(into, from)).toEqual(merged);
  });
});

describe('UsageRecorder', () => {
  it('records allowed and denied uses per key at minute resolution, only for keys that authenticated', () => {
    let now = 100 * MIN + 5_000;
    const rec = new UsageRecorder(() => now);
    rec.record(record('KEY1', 'joe', 'allow', '10.0.0.1'));
    now = 101 * MIN;
    rec.record(record('KEY1', 'joe', 'deny', '10.0.0.2'));
    rec.record(record('NOSUCHKEY', undefined, 'deny')); // unknown id or wrong secret: no user on the record
    rec.record(record(undefined, undefined, 'deny'));
    expect([...rec.take()]).toEqual([['KEY1', { used: 100, denied: 101, client: '10.0.0.2' }]]);
    expect(rec.take().size).toBe(0);
  });

  it('gives back what a failed write could not store, newer uses winning', () => {
    let now = 10 * MIN;
    const rec = new UsageRecorder(() => now);
    rec.record(record('A', 'joe', 'allow', 'old'));
    const failed = rec.take();
    now = 12 * MIN;
    rec.record(record('A', 'joe', 'allow', 'new'));
    rec.giveBack(failed);
    expect(rec.pending.get('A')).toEqual({ used: 12, denied: 0, client: 'new' });
  });
});

class MemoryStore implements UsageStore {
  readonly where = 'memory';
  readonly flushMs = 60_000;
  state: UsageMap = new Map();
  writes: UsageMap[] = [];
  fail = false;
  async read(): Promise<UsageMap> {
    return new Map(this.state);
  }
  async merge(changes: UsageMap): Promise<undefined> {
    if (this.fail) throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    this.writes.push(new Map(changes));
    for (const [id, u] of changes) this.state.set(id, mergeUse(this.state.get(id), u));
    return undefined;
  }
  async close(): Promise<void> {}
}

describe('UsageKeeper', () => {
  it('sends a key at most once per minute it moved, keeps changes a failed write lost, and says so once', async () => {
    let now = 50 * MIN;
    const rec = new UsageRecorder(() => now);
    const store = new MemoryStore();
    const events: string[] = [];
    const keeper = new UsageKeeper(rec, store, {
      failed: (_w, e) => events.push(`failed ${e}`),
      recovered: () => events.push('recovered'),
    });
    rec.record(record('A', 'joe', 'allow'));
    await keeper.flush();
    rec.record(record('A', 'joe', 'allow')); // same minute: nothing new to send
    await keeper.flush();
    expect(store.writes.length).toBe(1);
    now = 51 * MIN;
    rec.record(record('A', 'joe', 'allow'));
    store.fail = true;
    await keeper.flush();
    await keeper.flush();
    expect(events).toEqual(['failed ECONNREFUSED']);
    expect(keeper.view().get('A')?.used).toBe(51); // still pending, still seen by /metrics
    store.fail = false;
    await keeper.close();
    expect(events).toEqual(['failed ECONNREFUSED', 'recovered']);
    expect(store.state.get('A')?.used).toBe(51);
  });
});

describe('FileUsageStore', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('writers merging at the same time never drop each other (newest wins per key)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-usage-'));
    const stores = Array.from({ length: 4 }, () => new FileUsageStore(join(dir!, 'state')));
    await Promise.all(
      stores.map((s, i) =>
        s.merge(
          new Map([
            [`K${i}`, { used: 10 + i, denied: 0, client: `c${i}` }],
            ['SHARED', { used: 20 + i, denied: 0, client: `c${i}` }],
          ]),
        ),
      ),
    );
    const state = await readUsageFile(stores[0].file);
    expect([...state.keys()].sort()).toEqual(['K0', 'K1', 'K2', 'K3', 'SHARED']);
    expect(state.get('SHARED')).toEqual({ used: 23, denied: 0, client: 'c3' });
  });

  it('reads a damaged or foreign file as empty, and ignores malformed entries', async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-usage-'));
    const file = join(dir, 'key-usage.json');
    writeFileSync(file, '{ not json');
    expect((await readUsageFile(file)).size).toBe(0);
    const mixed = decodeUsage(JSON.stringify({ keys: { A: [1, 2, 'x'], B: ['1', 2, 'x'], C: [1, 2, 'y'.repeat(100)], D: 'no' } }));
    expect([...mixed.keys()]).toEqual(['A']);
    expect(decodeUsage(encodeUsage(mixed))).toEqual(mixed);
    expect((await readUsageFile(join(dir, 'missing.json'))).size).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('{ not json');
  });
});
