import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { rawRequest, readResponse, requestHead } from '../helpers/raw.js';

/** `limits.body` → 413 (Content-Length or counted while streaming), `limits.headers` → 431. */
const AUTH = ['Authorization', `Bearer ${DEMO_KEYS.deploy.key}`] as const;
const PATH = '/compute/v2/p1/servers';
const BODY_LIMIT = 1024;

function chunked(total: number, chunkSize = 300): string {
  let out = '';
  for (let sent = 0; sent < total; sent += chunkSize) {
    const n = Math.min(chunkSize, total - sent);
    out += `${n.toString(16)}\r\n${'c'.repeat(n)}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

describe('413 and 431', () => {
  const fx = useKeygate({ edit: (main) => appendTopLevel(main, 'limits: { body: 1KiB, headers: 4KiB }') });
  const port = (): number => fx.kg.app.port('proxy');

  const bodies = [
    {
      desc: 'Content-Length at the limit',
      headers: [AUTH, ['Content-Length', String(BODY_LIMIT)]],
      body: 'b'.repeat(BODY_LIMIT),
      status: 200,
    },
    {
      desc: 'Content-Length one byte over',
      headers: [AUTH, ['Content-Length', String(BODY_LIMIT + 1)]],
      body: 'b'.repeat(BODY_LIMIT + 1),
      status: 413,
    },
    { desc: 'Content-Length far over, body never sent', headers: [AUTH, ['Content-Length', '1000000000']], body: '', status: 413 },
    { desc: 'chunked, under the limit', headers: [AUTH, ['Transfer-Encoding', 'chunked']], body: chunked(1000), status: 200 },
    { desc: 'chunked, at the limit', headers: [AUTH, ['Transfer-Encoding', 'chunked']], body: chunked(BODY_LIMIT), status: 200 },
    { desc: 'chunked, over the limit', headers: [AUTH, ['Transfer-Encoding', 'chunked']], body: chunked(5000), status: 413 },
    {
      desc: 'over the limit without a key: authentication comes first',
      headers: [['Content-Length', '5000']],
      body: 'b'.repeat(5000),
      status: 401,
    },
  ] as const;

  it.each(bodies)('$desc → $status', async ({ headers, body, status }) => {
    const before = fx.upstream.seen.length;
    const res = await rawRequest(port(), requestHead('POST', PATH, [['Host', 'x'], ...headers]) + body);
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(fx.upstream.seen).toHaveLength(before + 1);
      expect(fx.upstream.seen.at(-1)?.bodyBytes).toBeLessThanOrEqual(BODY_LIMIT);
      return;
    }
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ type: 'about:blank', status, requestId: res.headers['x-request-id'] });
    if (status === 413) expect(JSON.parse(res.body)).toMatchObject({ reason: 'payload_too_large' });
    expect(fx.upstream.seen).toHaveLength(before); // the upstream never got a whole request
  });

  it('Expect: 100-continue over the limit → 413 and no 100 Continue', async () => {
    const res = await rawRequest(
      port(),
      requestHead('POST', PATH, [['Host', 'x'], AUTH, ['Content-Length', '5000'], ['Expect', '100-continue']]),
    );
    expect(res.status).toBe(413);
    expect(res.raw).not.toContain('100 Continue');
  });

  it('Expect: 100-continue without a key → 401 and no 100 Continue', async () => {
    const res = await rawRequest(
      port(),
      requestHead('POST', PATH, [
        ['Host', 'x'],
        ['Content-Length', '10'],
        ['Expect', '100-continue'],
      ]),
    );
    expect(res.status).toBe(401);
    expect(res.raw).not.toContain('100 Continue');
  });

  it('Expect: 100-continue within the limit → one 100 Continue, then the upstream answer', async () => {
    const before = fx.upstream.seen.length;
    const socket = connect({ host: '127.0.0.1', port: port() });
    try {
      socket.write(
        requestHead('POST', PATH, [['Host', 'x'], AUTH, ['Content-Length', '10'], ['Expect', '100-continue'], ['Connection', 'close']]),
      );
      const interim = await readResponse(socket);
      expect(interim.status).toBe(100);
      socket.write('0123456789');
      const final = await readResponse(socket);
      expect(final.status).toBe(200);
      expect(final.raw).not.toContain('100 Continue');
      await waitFor(() => fx.upstream.seen.length > before);
      expect(fx.upstream.seen.at(-1)?.bodyBytes).toBe(10);
      expect(fx.upstream.seen.at(-1)?.headers.expect).toBeUndefined();
    } finally {
      socket.destroy();
    }
  });

  const headerRows = [
    { desc: 'headers well under limits.headers', size: 2 * 1024, status: 200 },
    { desc: 'one header larger than limits.headers', size: 5 * 1024, status: 431 },
    { desc: 'many headers adding up past limits.headers', size: 0, many: 60, status: 431 },
  ];

  it.each(headerRows)('$desc → $status', async ({ size, many, status }) => {
    const before = fx.upstream.seen.length;
    const extra: [string, string][] = many
      ? Array.from({ length: many }, (_, i) => [`X-Pad-${i}`, 'p'.repeat(100)])
      : [['X-Big', 'h'.repeat(size)]];
    const res = await rawRequest(port(), requestHead('GET', `${PATH}/1`, [['Host', 'x'], AUTH, ...extra]));
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(fx.upstream.seen).toHaveLength(before + 1);
      return;
    }
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'about:blank',
      status: 431,
      reason: 'headers_too_large',
      requestId: expect.any(String),
    });
    expect(res.raw).not.toContain('hhhhhhhh');
    expect(fx.upstream.seen).toHaveLength(before);
  });
});
