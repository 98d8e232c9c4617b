import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** One HTTP/1.1 response read off a raw socket. */
export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Lower-case names; repeated headers joined with ', '. */
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Everything the socket delivered, for "never contains" assertions. */
  readonly raw: string;
}

/**
 * Writes `request` byte for byte (no client library normalises it) and reads one
 * response: up to Content-Length, the last chunk, or the end of the connection.
 */
export async function rawRequest(port: number, request: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  const socket = connect({ host: '127.0.0.1', port });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(request);
    return await readResponse(socket, timeoutMs);
  } finally {
    socket.destroy();
  }
}

/**
 * Reads one response from `socket`; bytes after it (a second response, WebSocket frames)
 * are pushed back onto the socket for the next reader.
 */
export function readResponse(socket: Socket, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(buf.toString('latin1'))}`)),
      timeoutMs,
    );
    const finish = (err?: Error, res?: RawResponse): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(res!);
    };
    const tryParse = (ended: boolean): void => {
      const parsed = parseResponse(buf, ended);
      if (parsed) {
        finish(undefined, parsed.response);
        if (parsed.consumed < buf.length) socket.unshift(buf.subarray(parsed.consumed));
      } else if (ended) finish(new Error(`connection ended mid-response: ${JSON.stringify(buf.toString('latin1'))}`));
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      tryParse(false);
    };
    const onEnd = (): void => tryParse(true);
    const onError = (e: Error): void => (buf.length ? tryParse(true) : finish(e));
    socket.on('data', onData).on('end', onEnd).on('error', onError);
    socket.resume();
  });
}

function parseResponse(buf: Buffer, ended: boolean): { response: RawResponse; consumed: number } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(statusLine.split(' ')[1]);
  const rest = buf.subarray(headEnd + 4);
  const body = bodyOf(status, headers, rest, ended);
  if (body === undefined) return undefined;
  const consumed = headEnd + 4 + body.wireLength;
  const response = { status, statusLine, headers, body: body.bytes.toString('utf8'), raw: buf.subarray(0, consumed).toString('latin1') };
  return { response, consumed };
}

interface Body {
  readonly bytes: Buffer;
  /** How many bytes of the socket the body took (chunk framing included). */
  readonly wireLength: number;
}

function bodyOf(status: number, headers: Record<string, string>, rest: Buffer, ended: boolean): Body | undefined {
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { bytes: Buffer.alloc(0), wireLength: 0 };
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return rest.length >= length ? { bytes: rest.subarray(0, length), wireLength: length } : undefined;
  }
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) return dechunk(rest);
  return ended ? { bytes: rest, wireLength: rest.length } : undefined;
}

function dechunk(buf: Buffer): Body | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = Number.parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (size === 0) {
      const end = buf.indexOf('\r\n\r\n', lineEnd);
      return end === -1 ? undefined : { bytes: Buffer.concat(parts), wireLength: end + 4 };
    }
    if (buf.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** A request head with CRLFs, ending in the blank line. `headers` are written as given. */
export function requestHead(method: string, target: string, headers: ReadonlyArray<readonly [string, string]>): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

/** A port free right now on 127.0.0.1, for servers that cannot listen on 0 and report it (nginx, the demo's echo API). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
