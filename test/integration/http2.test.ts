import { execFile } from 'node:child_process';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate } from '../helpers/certs.js';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpsSend } from '../helpers/https.js';
import { FRAME, rawHttp2Request } from '../helpers/rawHttp2.js';

/**
 * HTTP/2 on a TLS listener (ALPN h2 next to http/1.1): the same pipeline and decisions as
 * HTTP/1.1, path safety on `:path`, `:authority` as Host, bodies without Content-Length,
 * and RFC 9113's connection-specific headers refused before anything is decided.
 */
const pair = makeCertificate({ cn: 'h2' });
const allowed = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };
const PATH = '/compute/v2/p1/servers/42';

interface H2Result {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function h2(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string[]): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let received: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      received = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: received, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    if (body !== undefined) {
      for (const part of body) stream.write(part);
      stream.end();
    }
  });
}

describe('HTTP/2 on a TLS listener', () => {
  const fx = useKeygate({
    edit: (main) => main.replace('proxy: 127.0.0.1:0', 'proxy: { address: 127.0.0.1:0, tls: { cert: ./tls.crt, key: ./tls.key } }'),
    prepare: (cfg) => {
      writeFileSync(cfg.path('tls.crt'), pair.cert);
      writeFileSync(cfg.path('tls.key'), pair.key);
    },
  });
  let session: ClientHttp2Session;
  const origin = (): string => `https://127.0.0.1:${fx.kg.app.port('proxy')}`;
  beforeAll(() => {
    session = connect(origin(), { ca: pair.cert });
  });
  afterAll(() => session?.close());

  it('answers an allowed request over h2 from the upstream, with :authority as the Host it read', async () => {
    const before = fx.upstream.seen.length;
    const res = await h2(session, { ':method': 'GET', ':path': `${PATH}?q=1`, ...allowed });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBeTruthy();
    const seen = fx.upstream.seen.at(-1)!;
    expect(fx.upstream.seen.length).toBe(before + 1);
    expect(seen.url).toBe('/v2/p1/servers/42?q=1');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${fx.kg.app.port('proxy')}`);
    expect(seen.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(Object.keys(seen.headers).filter((h) => h.startsWith(':'))).toEqual([]);
  });

  it('denies over h2 exactly as over HTTP/1.1: same status and problem type', async () => {
    const overH2 = await h2(session, { ':method': 'GET', ':path': PATH });
    const overH1 = await httpsSend(`${origin()}${PATH}`, { ca: pair.cert });
    expect(overH2.status).toBe(401);
    expect(overH2.status).toBe(overH1.status);
    expect(JSON.parse(overH2.body).type).toBe(JSON.parse(overH1.body).type);
    expect(overH2.headers['content-type']).toMatch(/problem\+json/);
    const deleted = await h2(session, { ':method': 'DELETE', ':path': PATH, ...allowed });
    expect(deleted.status).toBe(403);
  });

  it('applies path safety to :path', async () => {
    const before = fx.upstream.seen.length;
    for (const path of ['/compute/../identity/v3/users', '/compute/v2/%2e%2e/x', '/compute/v2//x']) {
      expect((await h2(session, { ':method': 'GET', ':path': path, ...allowed })).status, path).toBe(400);
    }
    expect(fx.upstream.seen.length).toBe(before);
  });

  it('refuses a Host header that differs from :authority as a second Host (400)', async () => {
    const port = fx.kg.app.port('proxy');
    const request = (host: string): [string, string][] => [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', PATH],
      [':authority', `127.0.0.1:${port}`],
      ['host', host],
      ['authorization', allowed.authorization],
    ];
    const answer = async (host: string): Promise<number | undefined> =>
      (await rawHttp2Request(port, pair.cert, request(host))).find((f) => f.stream === 1 && f.type === FRAME.HEADERS)?.status;
    expect(await answer(`127.0.0.1:${port}`)).toBe(200);
    expect(await answer('other.example')).toBe(400);
  });

  it('forwards a streamed body that has no Content-Length (HTTP/2 has no chunked encoding)', async () => {
    const res = await h2(session, { ':method': 'POST', ':path': `${PATH}/action`, 'content-type': 'text/plain', ...allowed }, [
      'one,',
      'two,',
      'three',
    ]);
    expect(res.status).toBe(200);
    expect(fx.upstream.seen.at(-1)!.bodyHead).toBe('one,two,three');
  });

  it('offers h2 and http/1.1 by ALPN: curl --http2 gets HTTP/2, an HTTP/1.1-only client HTTP/1.1', async () => {
    const curl = await promisify(execFile)('curl', [
      '-sS',
      '--http2',
      '--cacert',
      fx.cfg.path('tls.crt'),
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      '-H',
      `authorization: ${allowed.authorization}`,
      `${origin()}${PATH}`,
    ]);
    expect(curl.stdout).toBe('2 200');
    const h1 = await httpsSend(`${origin()}${PATH}`, { ca: pair.cert, headers: allowed });
    expect(h1.status).toBe(200);
  });

  it.each([
    ['connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['upgrade', 'websocket'],
    ['te', 'gzip'],
  ])('refuses a request carrying %s (RFC 9113 §8.2.2) before anything reaches the upstream', async (name, value) => {
    const before = fx.upstream.seen.length;
    const base: [string, string][] = [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', PATH],
      [':authority', '127.0.0.1'],
      ['authorization', allowed.authorization],
    ];
    // The same client without the header is answered: the refusal is about the header.
    const control = await rawHttp2Request(fx.kg.app.port('proxy'), pair.cert, base);
    expect(control.some((f) => f.stream === 1 && f.type === FRAME.HEADERS)).toBe(true);
    const frames = await rawHttp2Request(fx.kg.app.port('proxy'), pair.cert, [...base, [name, value]]);
    expect(frames.some((f) => f.stream === 1 && f.type === FRAME.HEADERS)).toBe(false);
    expect(frames.some((f) => (f.stream === 1 && f.type === FRAME.RST_STREAM) || f.type === FRAME.GOAWAY)).toBe(true);
    expect(fx.upstream.seen.length).toBe(before + 1); // the control request only
  });
});
