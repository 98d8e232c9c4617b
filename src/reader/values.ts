import type { NodeReader } from './yamlReader.js';

/** Parsers for the value formats of the config files; each returns a value or an error message. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `1.5m`, `12h`, `30d` → milliseconds. */
export function parseDuration(text: string): number | { error: string } {
  const m = DURATION.exec(text.trim());
  if (!m) return { error: `"${text}" is not a duration (e.g. 500ms, 2s, 5m, 12h, 30d)` };
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|m|g)?$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** `16KiB`, `10MiB`, `1048576` → bytes. */
export function parseSize(text: string): number | { error: string } {
  const m = SIZE.exec(text.trim());
  if (!m) return { error: `"${text}" is not a size (e.g. 16KiB, 10MiB, 1048576)` };
  return Number(m[1]) * UNIT_BYTES[(m[2] ?? 'b').toLowerCase()];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

/** An RFC 3339 timestamp, or a date (midnight UTC) → epoch ms. */
export function parseTimestamp(text: string): number | { error: string } {
  if (!RFC3339.test(text.trim())) return { error: `"${text}" is not an RFC 3339 date or timestamp (e.g. 2027-01-01T00:00:00Z)` };
  const ms = Date.parse(text.trim());
  if (Number.isNaN(ms) || !isCalendarDate(text.trim()) || /[Tt ]24:/.test(text)) return { error: `"${text}" is not a valid date` };
  return ms;
}

/** Date.parse rolls 2027-02-30 over to March 2 instead of rejecting it. */
function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  return m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseListenAddress(text: string): { host: string; port: number } | { error: string } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return { error: `"${text}" is not a listen address (host:port)` };
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A timestamp field of any file: an error at the node when it does not parse. */
export function readTimestamp<N>(r: NodeReader<N>, node: N, what: string): number | undefined {
  const parsed = parseTimestamp(r.scalarText(node));
  return typeof parsed === 'number' ? parsed : r.error(node, `${what}: ${parsed.error}`);
}

/** C0 and C1 control characters and DEL: no header can carry them (a name with CR/LF would split it). */
function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** An error when `text` (a user or key name, sent in identity headers) holds a control character. */
export function controlCharProblem(what: string, text: string): string | undefined {
  return hasControlChar(text)
    ? `${what} ${JSON.stringify(text)} contains a control character; names are sent in X-Keygate-* headers, which cannot carry one`
    : undefined;
}
