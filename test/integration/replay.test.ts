import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { DEMO_KEYS } from '../helpers/config.js';
import { startStack, type StartedKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';

const keygate = (...args: string[]) => runInProcess(args, { env: process.env });

/**
 * `keygate replay`: real traffic through a real keygate is recorded (its own access
 * lines, as written), then decided again with three candidate configs. Each gives exactly
 * the expected changes and exit code.
 */

const { monitoring, deploy, aliceAdmin } = DEMO_KEYS;

/** [key, method, path, live status]: what the recorded run sends. */
const TRAFFIC: readonly (readonly [string, string, string, number])[] = [
  [monitoring.key, 'GET', '/compute/v2/p1/servers/1', 200],
  [monitoring.key, 'GET', '/compute/v2/p1/servers/2', 200],
  [monitoring.key, 'GET', '/compute/v2/p1/servers/2/metrics', 200],
  [monitoring.key, 'POST', '/compute/v2/p1/servers', 403], // key_scope_denied
  [deploy.key, 'GET', '/compute/v2/p1/servers/1', 200],
  [deploy.key, 'DELETE', '/compute/v2/p1/servers/1', 403], // key_deny_rule
  [aliceAdmin.key, 'GET', '/identity/v3/users/u1', 200],
  [aliceAdmin.key, 'POST', '/identity/v3/users/u1/credentials/x', 403], // guardrail
  ['kg_AAAAAAAAAAAA_not-a-key', 'GET', '/compute/v2/p1/servers/1', 401], // never judged by the policy
  [monitoring.key, 'GET', '/nowhere', 404], // nor is this
];

interface Group {
  readonly count: number;
  readonly keyId?: string;
  readonly rule?: string;
  readonly example: { readonly method: string; readonly path: string; readonly live: string; readonly candidate: string };
}
interface Direction {
  readonly count: number;
  readonly byKey: readonly Group[];
  readonly byRule: readonly Group[];
}
interface Report {
  readonly lines: number;
  readonly replayed: number;
  readonly allowedToDenied: Direction;
  readonly deniedToAllowed: Direction;
}

describe('keygate replay of a recorded access log', () => {
  let stack: StartedKeygate;
  let dir: string;
  let log: string;

  /** A copy of the recorded run's config with `edit` applied to one file; returns its keygate.yaml. */
  const candidate = (name: string, file: string, edit: (text: string) => string): string => {
    const at = join(dir, name);
    cpSync(stack.cfg.dir, at, { recursive: true });
    const text = readFileSync(join(at, file), 'utf8');
    const edited = edit(text);
    if (edited === text) throw new Error(`candidate ${name}: the edit of ${file} changed nothing`);
    writeFileSync(join(at, file), edited);
    return join(at, 'keygate.yaml');
  };
  const replay = async (config: string, ...more: string[]): Promise<{ code: number; report: Report }> => {
    const run = await keygate('replay', '-c', config, '--log', log, '--json', ...more);
    return { code: run.code, report: JSON.parse(run.out) as Report };
  };

  beforeAll(async () => {
    stack = await startStack();
    for (const [key, method, path, status] of TRAFFIC) {
      const res = await fetch(`${stack.kg.url()}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
      await res.arrayBuffer();
      expect(res.status, `${method} ${path}`).toBe(status);
    }
    const check = await fetch(`${stack.kg.url('check')}/`, {
      headers: { authorization: `Bearer ${monitoring.key}`, 'x-original-uri': '/compute/v2/p9/servers/1', 'x-original-method': 'GET' },
    });
    expect(check.status).toBe(200);
    await waitFor(() => stack.kg.logs().filter((l) => l.msg === 'request').length === TRAFFIC.length + 1);
    dir = mkdtempSync(join(tmpdir(), 'keygate-replay-'));
    log = join(dir, 'access.log');
    writeFileSync(log, stack.kg.logText());
  });
  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the recorded config itself: nothing changes, exit 0', async () => {
    const { code, report } = await replay(stack.cfg.mainFile);
    expect(code).toBe(0);
    expect(report.replayed).toBe(9); // every request with a verified key, the 404 aside
    expect(report.allowedToDenied.count + report.deniedToAllowed.count).toBe(0);
  });

  it('a tightened key: exactly its requests outside the new scope, by key and by rule, exit 1', async () => {
    const config = candidate('tightened', 'keys.yaml', (keys) =>
      keys.replace(
        '{ service: compute, method: read, path: "/v2/*/servers/**" }',
        '{ service: compute, method: read, path: "/v2/*/servers/1" }',
      ),
    );
    const { code, report } = await replay(config);
    expect(code).toBe(1);
    expect(report.deniedToAllowed.count).toBe(0);
    expect(report.allowedToDenied.count).toBe(2); // servers/2 and servers/2/metrics; servers/1 (proxy and check) still matches
    expect(report.allowedToDenied.byKey).toMatchObject([{ keyId: monitoring.id, count: 2 }]);
    expect(report.allowedToDenied.byRule).toMatchObject([
      {
        rule: `key_scope_denied: no allow rule of key ${monitoring.id} matches`,
        count: 2,
        example: { live: 'allow', candidate: 'key_scope_denied' },
      },
    ]);
  });

  it('a new guardrail and a lifted one: changes both ways, allowed → denied first, exit 1', async () => {
    const config = candidate('guardrail', 'policy.yaml', (policy) =>
      policy
        .replace('    except: []', '    except: [J5fIC0OTO4Co]')
        .replace(/\n?$/, '\n  - { service: compute, method: GET, path: "/v2/*/servers/1" }\n'),
    );
    const { code, report } = await replay(config);
    expect(code).toBe(1);
    expect(report.allowedToDenied.count).toBe(3); // monitoring and deploy on servers/1, and the check of p9/servers/1
    expect(report.allowedToDenied.byRule).toEqual([
      expect.objectContaining({ rule: 'guardrail rule 2: compute GET /v2/*/servers/1', count: 3 }),
    ]);
    expect(report.allowedToDenied.byKey.map((g) => [g.keyId, g.count])).toEqual([
      [monitoring.id, 2],
      [deploy.id, 1],
    ]);
    expect(report.deniedToAllowed.count).toBe(1);
    expect(report.deniedToAllowed.byKey).toMatchObject([
      { keyId: aliceAdmin.id, count: 1, example: { method: 'POST', path: '/identity/v3/users/u1/credentials/x', live: 'guardrail' } },
    ]);
  });

  it('reads a gzipped log the same way, prints text, and --since leaves older lines out', async () => {
    const gz = join(dir, 'access.log.1.gz');
    writeFileSync(gz, gzipSync(readFileSync(log)));
    const config = join(dir, 'tightened', 'keygate.yaml');
    const text = await keygate('replay', '-c', config, '--log', gz);
    expect(text.code).toBe(1);
    expect(text.out).toContain('2 would change: 2 allowed → denied, 0 denied → allowed');
    expect(text.out).toContain(`\n    2  ${monitoring.id} (joe/monitoring)\n`);
    const later = await keygate('replay', '-c', config, '--log', gz, '--since', new Date(Date.now() + 60_000).toISOString());
    expect(later.code).toBe(0);
    expect(later.out).toContain('replayed 0 request(s)');
  });

  it('usage errors exit 2, an unreadable log exits 1', async () => {
    expect((await keygate('replay', '-c', stack.cfg.mainFile)).code).toBe(2);
    expect((await keygate('replay', '-c', stack.cfg.mainFile, '--log', log, '--since', 'yesterday')).code).toBe(2);
    expect((await keygate('replay', '-c', stack.cfg.mainFile, '--log', join(dir, 'missing.log'))).code).toBe(1);
  });
});
