import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { httpSend } from '../helpers/http.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { addListen } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Every 403 reason, with the allowed neighbour of each denial so the test proves the
 * denial is specific; the upstream never sees a denied request.
 */
const office = newKey(); // joe, inherit, only from 10.0.0.0/8
const aliceOther = newKey(); // alice, inherit, not named in any guardrail's except
const extraKeys = [
  keyEntry(office, 'joe', 'office', ['scope: inherit', 'sourceIPs: [10.0.0.0/8]']),
  keyEntry(aliceOther, 'alice', 'alice-other', ['scope: inherit']),
].join('\n');
// A second guardrail whose `except` lets alice-admin through.
const guardrailWithExcept = `  - service: identity\n    method: DELETE\n    path: /v3/projects/**\n    except: [${DEMO_KEYS.aliceAdmin.id}]\n`;

type Row = { desc: string; key: string; method: string; path: string; xff?: string; status: number; reason?: string };

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

describe('403: authorization failures', () => {
  let upstream: TestUpstream;
  let cfg: TempConfig;
  let trustedCfg: TempConfig;
  let kg: RunningKeygate;
  let trusted: RunningKeygate;
  beforeAll(async () => {
    upstream = await startUpstream();
    const setup = (c: TempConfig): void => {
      c.write('keys.yaml', `${c.read('keys.yaml').trimEnd()}\n${extraKeys}\n`);
      c.write('policy.yaml', `${c.read('policy.yaml').trimEnd()}\n${guardrailWithExcept}`);
    };
    cfg = tempConfig(upstream.origin);
    setup(cfg);
    trustedCfg = tempConfig(upstream.origin, (main) => addListen(main, 'trustedProxies: [127.0.0.1/32]'));
    setup(trustedCfg);
    [kg, trusted] = await Promise.all([startKeygate(cfg.mainFile), startKeygate(trustedCfg.mainFile)]);
  });
  afterAll(async () => {
    await Promise.all([kg?.close(), trusted?.close()]);
    await upstream?.close();
    cfg?.cleanup();
    trustedCfg?.cleanup();
  });

  async function expectDecision(target: RunningKeygate, row: Row): Promise<void> {
    const before = upstream.seen.length;
    const headers = { ...bearer(row.key), ...(row.xff ? { 'x-forwarded-for': row.xff } : {}) };
    const res = await httpSend(`${target.url()}${row.path}`, { method: row.method, headers });
    expect(res.status).toBe(row.status);
    if (row.status === 200) {
      expect(upstream.seen.length).toBe(before + 1);
      return;
    }
    expect(upstream.seen.length).toBe(before);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['www-authenticate']).toBeUndefined();
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'about:blank',
      title: expect.any(String),
      status: 403,
      reason: row.reason,
      requestId: res.headers['x-request-id'],
    });
    expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
  }

  const rows: Row[] = [
    {
      desc: 'restricted key, method outside its allow rules',
      key: DEMO_KEYS.monitoring.key,
      method: 'POST',
      path: '/compute/v2/p1/servers',
      status: 403,
      reason: 'key_scope_denied',
    },
    {
      desc: 'restricted key, service outside its allow rules (its user may read it)',
      key: DEMO_KEYS.monitoring.key,
      method: 'GET',
      path: '/identity/v3/users',
      status: 403,
      reason: 'key_scope_denied',
    },
    {
      desc: 'restricted key inside its allow rules',
      key: DEMO_KEYS.monitoring.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      status: 200,
    },
    {
      desc: 'restricted key: method read admits HEAD',
      key: DEMO_KEYS.monitoring.key,
      method: 'HEAD',
      path: '/compute/v2/p1/servers/1',
      status: 200,
    },
    {
      desc: 'inherit key, its own deny rule',
      key: DEMO_KEYS.deploy.key,
      method: 'DELETE',
      path: '/compute/v2/p1/servers/1',
      status: 403,
      reason: 'key_deny_rule',
    },
    {
      desc: 'inherit key, what its deny rule leaves',
      key: DEMO_KEYS.deploy.key,
      method: 'PUT',
      path: '/compute/v2/p1/servers/1',
      status: 200,
    },
    {
      desc: 'no role of the user allows a write on identity',
      key: DEMO_KEYS.deploy.key,
      method: 'POST',
      path: '/identity/v3/users',
      status: 403,
      reason: 'user_denied',
    },
    {
      desc: 'no role of the user covers this compute path',
      key: DEMO_KEYS.deploy.key,
      method: 'PUT',
      path: '/compute/v1/images/1',
      status: 403,
      reason: 'user_denied',
    },
    {
      desc: 'guardrail on credential management',
      key: DEMO_KEYS.aliceAdmin.key,
      method: 'POST',
      path: '/identity/v3/users/u1/credentials/new',
      status: 403,
      reason: 'guardrail',
    },
    {
      desc: 'the same user and path, a method the guardrail does not name',
      key: DEMO_KEYS.aliceAdmin.key,
      method: 'GET',
      path: '/identity/v3/users/u1/credentials/new',
      status: 200,
    },
    {
      desc: 'a guardrail that excepts this key id',
      key: DEMO_KEYS.aliceAdmin.key,
      method: 'DELETE',
      path: '/identity/v3/projects/p1',
      status: 200,
    },
    {
      desc: 'the guardrail with except still stops other keys of the same user',
      key: aliceOther.key,
      method: 'DELETE',
      path: '/identity/v3/projects/p1',
      status: 403,
      reason: 'guardrail',
    },
    {
      desc: 'sourceIPs 10/8, peer 127.0.0.1',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      status: 403,
      reason: 'source_ip_not_allowed',
    },
    {
      desc: 'sourceIPs 10/8: X-Forwarded-For from an untrusted peer is ignored',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      xff: '10.1.2.3',
      status: 403,
      reason: 'source_ip_not_allowed',
    },
    {
      desc: 'sourceIPs 127/8, peer 127.0.0.1, spoofed X-Forwarded-For ignored',
      key: DEMO_KEYS.aliceAdmin.key,
      method: 'GET',
      path: '/identity/v3/users',
      xff: '192.0.2.7',
      status: 200,
    },
  ];

  it.each(rows)('$desc → $status $reason', (row) => expectDecision(kg, row));

  const trustedRows: Row[] = [
    {
      desc: 'trusted peer names a 10/8 client',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      xff: '10.1.2.3',
      status: 200,
    },
    {
      desc: 'the client forged the leftmost hop; the trusted proxy appended 192.0.2.7',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      xff: '10.1.2.3, 192.0.2.7',
      status: 403,
      reason: 'source_ip_not_allowed',
    },
    {
      desc: 'rightmost untrusted hop counts, not the leftmost',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      xff: '192.0.2.7, 10.9.9.9',
      status: 200,
    },
    {
      desc: 'trusted hops are skipped from the right',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      xff: '10.1.2.3, 127.0.0.1',
      status: 200,
    },
    {
      desc: 'no X-Forwarded-For: the trusted peer itself is the client',
      key: office.key,
      method: 'GET',
      path: '/compute/v2/p1/servers/1',
      status: 403,
      reason: 'source_ip_not_allowed',
    },
    {
      desc: 'a 127/8-only key, named client outside it',
      key: DEMO_KEYS.aliceAdmin.key,
      method: 'GET',
      path: '/identity/v3/users',
      xff: '192.0.2.7',
      status: 403,
      reason: 'source_ip_not_allowed',
    },
  ];

  it.each(trustedRows)('trustedProxies 127.0.0.1/32: $desc → $status $reason', (row) => expectDecision(trusted, row));

  it('X-Forwarded-For upstream: the received list plus the TCP peer that sent it', async () => {
    const res = await httpSend(`${trusted.url()}/compute/v2/p1/servers/1`, {
      headers: { ...bearer(office.key), 'x-forwarded-for': '10.1.2.3' },
    });
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)?.headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
  });
});
