import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { rawRequest, requestHead } from '../helpers/raw.js';

/**
 * Upgrades beyond the shared security suite's rows: a service that allows none, an
 * upstream that switches to a protocol nobody asked for, and upgrade requests with a body.
 */
const MON = DEMO_KEYS.monitoring;
const ALICE = DEMO_KEYS.aliceAdmin;

interface Switch {
  url: string;
  /** Bytes the upstream received after the request head. */
  bytes: number;
}

function websocketHead(target: string, key: string, extra: [string, string][] = []): string {
  return requestHead('GET', target, [
    ['Host', 'localhost'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
    ['Sec-WebSocket-Version', '13'],
    ['X-API-Key', key],
    ...extra,
  ]);
}

describe('upgrades', () => {
  const switches: Switch[] = [];
  const stack = useKeygate({
    // identity allows no upgrade at all
    edit: (main) => main.replace('  - name: identity\n', '  - name: identity\n    upgrades: []\n'),
  });
  const sockets = new Set<Duplex>();
  afterAll(() => {
    for (const s of sockets) s.destroy(); // switched sockets are no longer the HTTP server's to close
  });

  /** The upstream answers every upgrade with a 101 naming `answer` (h2c for websocket: a misbehaving upstream). */
  function upstreamSwitchesTo(answer: string): void {
    stack.upstream.server.removeAllListeners('upgrade');
    stack.upstream.server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      const s: Switch = { url: req.url ?? '', bytes: head.length };
      switches.push(s);
      sockets.add(socket);
      socket.on('data', (c: Buffer) => (s.bytes += c.length));
      socket.on('error', () => socket.destroy());
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${answer}\r\n\r\n`);
    });
  }

  it('a service with `upgrades: []` refuses a WebSocket before the key is checked', async () => {
    upstreamSwitchesTo('websocket');
    const before = switches.length;
    const res = await rawRequest(stack.kg.app.port('proxy'), websocketHead('/identity/v3/stream', 'not-a-key'));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).reason).toBe('upgrade_not_allowed');
    expect(switches.length).toBe(before);
  });

  it('the same WebSocket is switched on a service that allows it', async () => {
    upstreamSwitchesTo('websocket');
    const res = await rawRequest(stack.kg.app.port('proxy'), websocketHead('/compute/v2/p1/servers/1/console', MON.key));
    expect(res.status).toBe(101);
    expect(switches.at(-1)?.url).toBe('/v2/p1/servers/1/console');
  });

  it('a 101 for a protocol the client did not ask for closes the connection (502), nothing reaches the upstream', async () => {
    upstreamSwitchesTo('h2c');
    const before = switches.length;
    const res = await rawRequest(
      stack.kg.app.port('proxy'),
      websocketHead('/compute/v2/p1/servers/1/console', MON.key) + 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    expect(res.status).toBe(502);
    expect(res.headers.connection).toBe('close');
    expect(res.raw).not.toContain('101');
    expect(switches.length).toBe(before + 1);
    expect(switches.at(-1)!.bytes).toBe(0);
    await waitFor(() => stack.kg.logs().find((l) => l.status === 502 && l.reason === 'upstream_failed'));
  });

  it.each([
    ['Content-Length', [['Content-Length', '5']] as [string, string][], 'hello'],
    ['chunked', [['Transfer-Encoding', 'chunked']] as [string, string][], '5\r\nhello\r\n0\r\n\r\n'],
  ])('an upgrade request with a body (%s) is refused, never forwarded with the body dropped', async (_what, headers, body) => {
    upstreamSwitchesTo('websocket');
    const before = switches.length;
    const seenBefore = stack.upstream.seen.length;
    const res = await rawRequest(stack.kg.app.port('proxy'), websocketHead('/compute/v2/p1/servers/1/console', ALICE.key, headers) + body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).reason).toBe('upgrade_not_allowed');
    expect(switches.length).toBe(before);
    expect(stack.upstream.seen.length).toBe(seenBefore);
  });
});
