import { connect } from 'node:tls';

/** HTTP/2 frame types this client reads back. */
export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;

export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  /** HEADERS: the status when the block starts with an indexed `:status` (RFC 7541 static table: 200, 204, 206, 304, 400, 404, 500). */
  readonly status?: number;
}

const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/** HPACK "literal header field without indexing, new name", no Huffman (RFC 7541 §6.2.2); short strings only. */
function literal(name: string, value: string): Buffer {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  return Buffer.concat([Buffer.from([0]), str(name), str(value)]);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * Sends one HEADERS frame (END_STREAM) with exactly `headers` (pseudo-headers included, in
 * order) over TLS with ALPN h2, the way node's http2 client refuses to (it will not send
 * connection-specific headers), and collects the frames the server sends back for `ms`
 * or until stream 1 is answered, reset or the connection goes away.
 */
export function rawHttp2Request(port: number, ca: string | string[], headers: [string, string][], ms = 3_000): Promise<RawFrame[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] });
    const frames: RawFrame[] = [];
    let buffered = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(frames);
    };
    const timer = setTimeout(done, ms);
    socket.on('error', (e) => (frames.length ? done() : reject(e)));
    socket.on('close', done);
    socket.on('secureConnect', () => {
      const block = Buffer.concat(headers.map(([n, v]) => literal(n, v)));
      socket.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
          frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)),
          frame(FRAME.HEADERS, 0x5, 1, block),
        ]),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3];
        const first = length > 0 ? buffered[9] : 0;
        const status = type === FRAME.HEADERS && first & 0x80 ? STATIC_STATUS[first & 0x7f] : undefined;
        const f = { type, flags: buffered[4], stream: buffered.readUInt32BE(5) & 0x7fffffff, ...(status ? { status } : {}) };
        frames.push(f);
        buffered = buffered.subarray(9 + length);
        if (f.type === FRAME.SETTINGS && (f.flags & 1) === 0) socket.write(frame(FRAME.SETTINGS, 1, 0, Buffer.alloc(0)));
        if ((f.stream === 1 && f.type !== FRAME.DATA) || f.type === FRAME.GOAWAY) return done();
      }
    });
  });
}
