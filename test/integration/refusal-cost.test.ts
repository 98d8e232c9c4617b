import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pumpBody } from '../helpers/bodyPump.js';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { readResponse, requestHead } from '../helpers/raw.js';

/**
 * A request keygate answers without forwarding costs nothing however large its body:
 * the answer says `Connection: close`, at most a linger (64 KiB or 1 s) of the body is
 * read, and the socket closes. Before, a 401 kept reading (GBs) and a half-sent body
 * held the socket open for good.
 */
const GB = '1000000000';
const PATH = '/compute/v2/p1/servers';
/** Far above the linger plus what loopback kernel buffers hold; far below what an unbounded reader takes in the pump's time. */
const TAKEN_AT_MOST = 24 * 1024 * 1024;
const PUMP = { maxBytes: 512 * 1024 * 1024, maxMs: 4_000 };

describe('refused requests with a body', () => {
  const fx = useKeygate({ edit: (main) => appendTopLevel(main, 'limits: { body: 1KiB }') });
  const port = (listener: 'proxy' | 'check' = 'proxy'): number => fx.kg.app.port(listener);

  const refusals = [
    { desc: '401, no key', status: 401, headers: [] as [string, string][] },
    {
      desc: '403, key outside its scope',
      status: 403,
      headers: [['Authorization', `Bearer ${DEMO_KEYS.monitoring.key}`]] as [string, string][],
    },
    {
      desc: '413, Content-Length over limits.body',
      status: 413,
      headers: [['Authorization', `Bearer ${DEMO_KEYS.deploy.key}`]] as [string, string][],
    },
  ];

  it.each(refusals)('$desc: a 1 GB body is not read; the socket closes', async ({ status, headers }) => {
    const before = fx.upstream.seen.length;
    const head = requestHead('POST', PATH, [['Host', 'x'], ...headers, ['Content-Length', GB]]);
    const result = await pumpBody(port(), head, PUMP);
    expect(result.response?.status).toBe(status);
    expect(result.response?.headers.connection).toBe('close');
    expect(result.closedByServer).toBe(true);
    expect(result.written).toBeLessThan(TAKEN_AT_MOST);
    expect(fx.upstream.seen).toHaveLength(before);
  });

  it('a chunked body the key may not send is not read either', async () => {
    const head = requestHead('POST', PATH, [
      ['Host', 'x'],
      ['Transfer-Encoding', 'chunked'],
    ]);
    const result = await pumpBody(port(), `${head}10000000\r\n`, PUMP);
    expect(result.response?.status).toBe(401);
    expect(result.closedByServer).toBe(true);
    expect(result.written).toBeLessThan(TAKEN_AT_MOST);
  });

  it('a half-sent body is not held open: the socket closes within the linger', async () => {
    const head = requestHead('POST', PATH, [
      ['Host', 'x'],
      ['Content-Length', GB],
    ]);
    const result = await pumpBody(port(), head, { prefix: 1000, stallAfterPrefix: true, maxBytes: 0, maxMs: 4_000 });
    expect(result.response?.status).toBe(401);
    expect(result.closedByServer).toBe(true);
    expect(result.ms).toBeLessThan(3_000);
  });

  it('the decision API closes a connection whose body it will never read', async () => {
    const head = requestHead('POST', '/any', [
      ['Host', 'x'],
      ['X-Original-URI', PATH],
      ['X-Original-Method', 'GET'],
      ['Content-Length', GB],
    ]);
    const result = await pumpBody(port('check'), head, PUMP);
    expect(result.response?.status).toBe(401);
    expect(result.closedByServer).toBe(true);
    expect(result.written).toBeLessThan(TAKEN_AT_MOST);
  });

  it('a refusal without a body keeps the connection for the next request', async () => {
    const socket = connect({ host: '127.0.0.1', port: port() });
    try {
      socket.write(requestHead('DELETE', `${PATH}/1`, [['Host', 'x']]));
      const first = await readResponse(socket);
      expect(first.status).toBe(401);
      expect(first.headers.connection).not.toBe('close');
      socket.write(
        requestHead('GET', `${PATH}/1`, [
          ['Host', 'x'],
          ['Authorization', `Bearer ${DEMO_KEYS.deploy.key}`],
        ]),
      );
      const second = await readResponse(socket);
      expect(second.status).toBe(200);
    } finally {
      socket.destroy();
    }
  });

  it('a small announced body is still answered and then the socket closes', async () => {
    const socket = connect({ host: '127.0.0.1', port: port() });
    let closed = false;
    socket.on('close', () => (closed = true)).on('error', () => undefined);
    try {
      socket.write(
        requestHead('POST', PATH, [
          ['Host', 'x'],
          ['Content-Length', '100000'],
        ]) + 'x'.repeat(10),
      );
      const res = await readResponse(socket);
      expect(res.status).toBe(401);
      expect(res.headers.connection).toBe('close');
      socket.resume();
      await waitFor(() => closed, 3_000);
    } finally {
      socket.destroy();
    }
  });
});
