import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SeenRequest } from './upstream.js';

/**
 * An upstream that honours method and URL overrides the way Express `method-override`,
 * Laravel, Symfony and IIS do, and one that switches to h2c (see frameworkUpstream.ts for
 * path readings). What an upstream framework runs: the method and path its router dispatches on.
 */
export interface Executed {
  readonly method: string;
  readonly path: string;
}

const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];
const URL_OVERRIDE_HEADERS = ['x-original-url', 'x-rewrite-url'];

/**
 * The method and path a request executes on frameworks that honour overrides:
 * Express `method-override` (X-HTTP-Method-Override on POST), Laravel and Symfony
 * (`_method` in the query or a form body, X-HTTP-Method-Override, upper-cased), PHP's
 * CGI header names (`X_HTTP_METHOD_OVERRIDE` reads as `X-HTTP-Method-Override`), and
 * Symfony's IIS support (X-Original-URL / X-Rewrite-URL replace the path).
 */
export function executed(seen: SeenRequest): Executed {
  let method = seen.method;
  if (method === 'POST') {
    const override = headerOverride(seen.rawHeaders) ?? formField(seen, '_method') ?? queryField(seen.url, '_method');
    if (override) method = override.toUpperCase();
  }
  const pathFromHeader = header(seen.rawHeaders, URL_OVERRIDE_HEADERS);
  const path = (pathFromHeader ?? seen.url).split('?', 1)[0];
  return { method, path };
}

function header(raw: readonly string[], names: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (names.includes(raw[i].toLowerCase().replaceAll('_', '-'))) return raw[i + 1];
  }
  return undefined;
}

function headerOverride(raw: readonly string[]): string | undefined {
  return header(raw, METHOD_OVERRIDE_HEADERS);
}

/** PHP turns `.`, ` ` and `[` in a parameter name into `_`, and decodes it first. */
function field(params: string, name: string): string | undefined {
  for (const pair of params.split('&')) {
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq)).replace(/^[ .[]/, '_');
    if (key.toLowerCase() === name) return eq === -1 ? '' : decode(pair.slice(eq + 1));
  }
  return undefined;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

function queryField(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  return q === -1 ? undefined : field(url.slice(q + 1), name);
}

function formField(seen: SeenRequest, name: string): string | undefined {
  const type = String(seen.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return field(seen.bodyHead, name);
  if (type.startsWith('multipart/form-data')) {
    const m = new RegExp(`content-disposition:[^\\r\\n]*name="${name}"\\r\\n\\r\\n([^\\r\\n]*)`, 'i').exec(seen.bodyHead);
    return m?.[1];
  }
  return undefined;
}

/** An upstream that switches to h2c when asked, and keeps every byte it receives afterwards. */
export interface H2cRecorder {
  /** How many connections it switched to h2c. */
  readonly switched: number;
  /** Everything received on switched connections (an HTTP/2 preface and frames, if smuggled). */
  readonly bytes: number;
}

export function answerH2c(server: Server): H2cRecorder {
  const rec = { switched: 0, bytes: 0 };
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (String(req.headers.upgrade).toLowerCase() !== 'h2c') {
      socket.destroy();
      return;
    }
    rec.switched++;
    rec.bytes += head.length;
    socket.on('data', (c: Buffer) => (rec.bytes += c.length));
    socket.on('error', () => socket.destroy());
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  });
  return rec;
}
