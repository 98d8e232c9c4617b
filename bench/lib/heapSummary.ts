import { readFileSync } from 'node:fs';

/*
 * What a V8 heap snapshot (.heapsnapshot, e.g. from `node --heapsnapshot-signal=SIGUSR2`)
 * holds, summed by node type and constructor name: self sizes, so the figures add up
 * to the live heap (a snapshot is taken after a full GC). ArrayBuffer backing stores
 * live outside the heap and show as "system / JSArrayBufferData" nodes.
 *   node --import tsx bench/lib/heapSummary.ts FILE [top]
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  readonly what: string;
  readonly count: number;
  readonly bytes: number;
}

export function summarizeHeap(file: string): { totalBytes: number; groups: HeapGroup[] } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt]];
    const size = snap.nodes[i + sizeAt];
    total += size;
    // Strings by kind only (their names are their contents); objects by constructor.
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : snap.strings[snap.nodes[i + nameAt]];
    const key = `${type}${name ? ` ${name.slice(0, 60)}` : ''}`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  return {
    totalBytes: total,
    groups: [...groups].map(([what, g]) => ({ what, ...g })).sort((a, b) => b.bytes - a.bytes),
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: heapSummary.ts FILE [top]');
  const top = Number(process.argv[3] ?? 30);
  const { totalBytes, groups } = summarizeHeap(file);
  const MiB = 1024 * 1024;
  console.log(`total self size ${(totalBytes / MiB).toFixed(1)} MiB in ${groups.reduce((n, g) => n + g.count, 0)} nodes`);
  for (const g of groups.slice(0, top)) {
    console.log(`${(g.bytes / MiB).toFixed(2).padStart(8)} MiB ${String(g.count).padStart(9)}  ${g.what}`);
  }
}
