import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ACCESS_LOG_MESSAGE } from '../observability/accessLog.js';

/** What replay reads of one access line (observability/accessLog.ts writes it). */
export interface AccessLine {
  /** When the request arrived: the line's `time` (written when it finished) minus `total_ms`; epoch ms. */
  readonly at: number;
  readonly requestId: string;
  readonly mode: string;
  readonly method: string;
  readonly path: string;
  /** `null` in lines written before keygate logged it: replay then routes by path alone. */
  readonly host: string | undefined;
  readonly clientIp: string;
  readonly keyId: string | undefined;
  readonly keyName: string | undefined;
  readonly user: string | undefined;
  readonly decision: string;
  readonly reason: string;
}

/** One line of the log: an access line, another JSON line of keygate's (events), or not JSON at all. */
export type ReadLine = { kind: 'access'; line: AccessLine } | { kind: 'other' } | { kind: 'unreadable' };

const GZIP_MAGIC = [0x1f, 0x8b];
/** A line longer than this is not one keygate wrote (paths are cut at 1 KiB): it is skipped unparsed. */
const MAX_LINE_CHARS = 64 * 1024;

/**
 * The file's lines, a chunk's worth at a time (gunzipped when the file starts with the gzip
 * magic bytes): memory stays flat whatever the log's size, and a million lines cost a few
 * thousand awaits, not a million.
 */
export async function* fileLines(file: string): AsyncGenerator<string[]> {
  const stream = (await isGzip(file)) ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  stream.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      if (rest.length > MAX_LINE_CHARS) rest = ''; // no line of keygate's is this long: drop it rather than grow
      yield lines;
    }
    if (rest !== '') yield [rest];
  } finally {
    stream.destroy();
  }
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/** Parses one line; anything that is not a complete access line of keygate's is `other` or `unreadable`, never an error. */
export function parseLine(text: string): ReadLine {
  if (text.length > MAX_LINE_CHARS || !text.startsWith('{')) return { kind: text.trim() === '' ? 'other' : 'unreadable' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'unreadable' };
  }
  if (typeof v !== 'object' || v === null) return { kind: 'unreadable' };
  const o = v as Record<string, unknown>;
  if (o.msg !== ACCESS_LOG_MESSAGE || o.event !== undefined) return { kind: 'other' };
  const time = typeof o.time === 'string' ? Date.parse(o.time) : NaN;
  const method = stringOf(o.method);
  const path = stringOf(o.path);
  const clientIp = stringOf(o.client_ip);
  if (Number.isNaN(time) || method === undefined || path === undefined || clientIp === undefined) return { kind: 'unreadable' };
  return {
    kind: 'access',
    line: {
      at: time - (typeof o.total_ms === 'number' && o.total_ms > 0 ? o.total_ms : 0),
      requestId: stringOf(o.request_id) ?? '',
      mode: stringOf(o.mode) ?? 'proxy',
      method,
      path,
      host: stringOf(o.host),
      clientIp,
      keyId: stringOf(o.key_id),
      keyName: stringOf(o.key_name),
      user: stringOf(o.user),
      decision: stringOf(o.decision) ?? '',
      reason: stringOf(o.reason) ?? '',
    },
  };
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
