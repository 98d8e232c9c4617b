import { beforeAll, describe, expect, it } from 'vitest';
import { hashSlow } from '../../src/auth/hash.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpExchange, type HttpResult } from '../helpers/http.js';
import { waitFor } from '../helpers/keygate.js';

/**
 * The slow-hash (KDF) queue: a flood of junk legacy secrets gets 429 `rate_limited`
 * (logged and counted so, never as an invalid key), and a correct legacy key is served
 * or answered 429 — never 401. One client's flood cannot starve another client.
 */
const LEGACY = [
  { id: 'LegacyAAAAA1', secret: 'hunter2-alpha' },
  { id: 'LegacyBBBBB2', secret: 'hunter2-bravo' },
] as const;
const FLOOD = 80;
const PATH = '/compute/v2/p1/servers/1';

describe('429 rate_limited from the slow-hash queue', () => {
  const hashes: string[] = [];
  beforeAll(async () => {
    for (const k of LEGACY) hashes.push(await hashSlow(k.secret));
  });
  const fx = useKeygate({
    prepare: (cfg) => {
      const entries = LEGACY.map(
        (k, i) => `  - id: ${k.id}\n    user: joe\n    name: legacy-${i}\n    hash: "${hashes[i]}"\n    legacy: true\n    scope: inherit`,
      );
      cfg.write('keys.yaml', `${cfg.read('keys.yaml').replace(/\n?$/, '\n')}${entries.join('\n')}\n`);
    },
  });

  function send(secret: string, localAddress = '127.0.0.1'): Promise<HttpResult> {
    return httpExchange({ host: '127.0.0.1', port: fx.kg.app.port('proxy'), path: PATH, headers: { 'x-api-key': secret }, localAddress });
  }

  it('80 concurrent junk secrets: a correct legacy key from the same client is served or gets 429, never 401', async () => {
    const flood = Array.from({ length: FLOOD }, (_, i) => send(`junk-secret-${i}`));
    const correct = send(LEGACY[0].secret);
    const [results, mine] = await Promise.all([Promise.all(flood), correct]);
    expect([200, 429]).toContain(mine.status);
    for (const r of results) expect([401, 429]).toContain(r.status);
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      expect(r.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
      expect(JSON.parse(r.body)).toMatchObject({ status: 429, reason: 'rate_limited' });
    }
    // Logged as rate_limited, and never as an invalid key beyond the runs that really happened.
    const lines = await waitFor(() => {
      const l = fx.kg.logs().filter((x) => x.path === PATH && (x.status === 429 || x.status === 401));
      return l.length >= limited.length ? l : undefined;
    });
    for (const l of lines.filter((x) => x.status === 429)) expect(l.reason).toBe('rate_limited');
    expect(lines.filter((x) => x.reason === 'rate_limited')).toHaveLength(limited.length + (mine.status === 429 ? 1 : 0));
    const metrics = await (await fetch(`${fx.kg.url('admin')}/metrics`)).text();
    expect(metrics).toMatch(/keygate_requests_total\{[^}]*reason="rate_limited"[^}]*\} [1-9]/);
    // Once the flood is over the correct key is served.
    await expect(send(LEGACY[0].secret)).resolves.toMatchObject({ status: 200 });
  });

  it('one client flooding does not starve another client: its correct legacy key is served', async () => {
    const flood = Array.from({ length: FLOOD }, (_, i) => send(`more-junk-${i}`, '127.0.0.1'));
    const other = send(LEGACY[1].secret, '127.0.0.2');
    const [results, theirs] = await Promise.all([Promise.all(flood), other]);
    expect(theirs.status).toBe(200);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThan(0);
  });
});
