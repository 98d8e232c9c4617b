import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFast, hashSlow } from '../../../src/auth/hash.js';
import { loadConfig } from '../../../src/config/load.js';
import { AsideLoader } from '../../../src/reload/asideLoader.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import { KeyStore } from '../../../src/keys/store.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { writeLargeKeysFile } from '../../../bench/largeKeysFile.js';

/**
 * The worker path of hot reload (loadAside.ts + snapshotCodec.ts) must give exactly the
 * snapshot loadConfig gives: same data, same classes, nothing less frozen. If someone
 * adds a field the structured clone cannot carry, this fails.
 */

const MAIN = `region: eu-west-1
listen:
  proxy: 127.0.0.1:0
  admin: 127.0.0.1:0
  trustedProxies: [10.0.0.0/8, "fd00::/8"]
services:
  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: http://127.0.0.1:3000/base
    serviceToken: { file: ./compute.token }
    timeouts: { connect: 2s, response: 30s, idle: 5s }
  - name: identity
    route: { host: id.example.com, allowSemicolon: true }
    upstream: https://id.internal:8443
    serviceToken: { header: X-Service-Token, scheme: '', env: ID_TOKEN }
policy: ./policy.yaml
keys: [./keys.yaml, ./many.yaml]
limits: { body: 1MiB, headers: 32KiB }
shutdown: { delay: 1s, timeout: 5s }
reload: { interval: 2s, debounce: 50ms }
log: { level: warn, access: false }
`;

const POLICY = `roles:
  reader:
    - { service: "*", method: read, path: "/**" }
  admin:
    - { region: [eu-west-1, us-east-1], service: compute, method: [POST, DELETE], path: "/v2/{project}/servers/*" }
users:
  joe: { roles: [admin, reader], expires: 2030-06-30T00:00:00Z }
  ann: { roles: [reader], disabled: true }
  bob: { roles: [reader] }
guardrails:
  - { service: identity, method: write, path: "/v3/users/*/credentials/**", except: [AAAAAAAAAAAA] }
`;

async function keysFile(): Promise<string> {
  const slow = await hashSlow('legacy-low-entropy', 'scrypt', { N: 1024, r: 8, p: 1 });
  return `keys:
  - id: AAAAAAAAAAAA
    user: joe
    name: full
    hash: "${hashFast('a')}"
    scope: restricted
    allow:
      - { service: compute, method: read, path: "/v2/**" }
      - { service: identity, path: "/v3/users/{id}" }
    deny:
      - { service: compute, method: DELETE, path: "/**" }
    sourceIPs: [10.0.0.0/8, "::1/128"]
    expires: 2029-01-01T00:00:00Z
    notBefore: 2020-01-01T00:00:00Z
    comment: everything set
    created: 2026-11-23T10:00:00Z
  - id: BBBBBBBBBBBB
    user: ann
    hash: "${hashFast('b')}"
    scope: inherit
    disabled: true
  - id: CCCCCCCCCCCC
    user: ghost
    hash: "${hashFast('legacy-high-entropy-secret-0123456789')}"
    legacy: true
    scope: inherit
  - id: DDDDDDDDDDDD
    user: bob
    hash: "${slow}"
    legacy: true
    scope: inherit
`;
}

/** Data, classes and Map/Set contents, ignoring frozenness (checked separately). */
function shape(x: unknown): unknown {
  if (typeof x === 'function') return '[function]';
  if (x === null || typeof x !== 'object') return x;
  if (Buffer.isBuffer(x)) return { buffer: x.toString('hex') };
  if (x instanceof URL) return { url: x.href };
  if (x instanceof Map) return { map: [...x].map(([k, v]) => [shape(k), shape(v)]) };
  if (x instanceof Set) return { set: [...x].map(shape) };
  if (x instanceof RuleMatcher) return { matcher: shape(x.rules) };
  if (x instanceof KeyStore) return { keys: x.list().map((k) => shape({ ...k, hash: k.hash.text })) };
  if (Array.isArray(x)) return x.map(shape);
  const proto: unknown = Object.getPrototypeOf(x);
  const cls = proto === Object.prototype || proto === null ? 'Object' : (proto as { constructor: { name: string } }).constructor.name;
  return { __class: cls, ...Object.fromEntries(Object.entries(x).map(([k, v]) => [k, shape(v)])) };
}

/** What a key's record reads from its row and fields. */
function keyFields(k: KeyRecord): Record<string, unknown> {
  const { id, user, name, scope, disabled, legacy, expires, notBefore, issued, created, file, line, col } = k;
  const rules = (m: KeyRecord['allow']): string[] => m.rules.map((r) => `${r.service} ${r.path.text}`);
  return {
    id,
    user,
    name,
    scope,
    disabled,
    legacy,
    expires,
    notBefore,
    issued,
    created,
    file,
    line,
    col,
    allow: rules(k.allow),
    deny: rules(k.deny),
    sourceIPs: k.sourceIPs?.text,
    hash: k.hash.text,
  };
}

/** Paths of every frozen object or array. */
function frozenPaths(x: unknown, path = '$', out: string[] = []): string[] {
  if (x === null || typeof x !== 'object' || x instanceof Map || x instanceof Set || Buffer.isBuffer(x) || x instanceof URL) return out;
  if (Object.isFrozen(x)) out.push(path);
  for (const [k, v] of Object.entries(x)) frozenPaths(v, `${path}.${k}`, out);
  return out;
}

describe('the load worker rebuilds the same snapshot as loadConfig', () => {
  let dir: string;
  const loader = new AsideLoader();
  const env = { ID_TOKEN: 'identity-token' };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-codec-'));
    writeFileSync(join(dir, 'keygate.yaml'), MAIN);
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'keys.yaml'), await keysFile());
    writeFileSync(join(dir, 'compute.token'), 'compute-token\n');
    writeLargeKeysFile(join(dir, 'many.yaml'), 160, 'bob'); // several batches of MIN_BATCH
  });
  afterAll(async () => {
    await loader.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('for a config that uses every feature', async () => {
    const main = join(dir, 'keygate.yaml');
    const direct = loadConfig(main, { generation: 7, env });
    const aside = await loader.load(main, { generation: 7, env });
    if (!direct.ok || !aside.ok)
      throw new Error(`both loads must succeed: ${JSON.stringify([direct, aside].map((r) => (r.ok ? 'ok' : r.errors)))}`);
    expect(aside.snapshot.keys.size).toBe(164);
    expect(shape(aside.snapshot)).toEqual(shape(direct.snapshot));
    // ann and bob have the same roles: one rule set in the worker, one again here (the clone keeps it one array).
    const rulesOf = (name: string): readonly unknown[] => aside.snapshot.users.get(name)!.rules.rules;
    expect(rulesOf('ann')).toBe(rulesOf('bob'));
    expect(rulesOf('joe')).not.toBe(rulesOf('bob'));
    // The keys' rows arrive as one transferred buffer under three views, and read the same.
    const rows = aside.snapshot.keys.data;
    expect(rows.rowWords.buffer).toBe(rows.rows.buffer);
    expect(rows.rowTimes.buffer).toBe(rows.rows.buffer);
    expect([...aside.snapshot.keys].map(keyFields)).toEqual([...direct.snapshot.keys].map(keyFields));
    expect(aside.warnings).toEqual(direct.warnings);
    expect(aside.sources).toEqual(direct.sources);
    const frozenAside = new Set(frozenPaths(aside.snapshot));
    const lessFrozen = frozenPaths(direct.snapshot).filter((p) => !frozenAside.has(p));
    expect(lessFrozen).toEqual([]);
  });

  it('for a config with a shadow candidate (policy and keys), and with an invalid one', async () => {
    const main = join(dir, 'shadow.yaml');
    writeFileSync(join(dir, 'policy.next.yaml'), POLICY.replace('joe: { roles: [admin, reader]', 'joe: { roles: [reader]'));
    writeFileSync(main, `${MAIN}shadow: { policy: ./policy.next.yaml, keys: [./keys.yaml] }\n`);
    const direct = loadConfig(main, { generation: 3, env });
    const aside = await loader.load(main, { generation: 3, env });
    if (!direct.ok || !aside.ok) throw new Error('both loads must succeed');
    expect(aside.snapshot.shadow?.keys?.size).toBe(4);
    expect(aside.snapshot.shadow?.policy?.users.get('joe')?.roles).toEqual(['reader']);
    expect(shape(aside.snapshot)).toEqual(shape(direct.snapshot));
    expect(aside.sources).toEqual(direct.sources);
    expect(aside.sources.has(join(dir, 'policy.next.yaml'))).toBe(true);
    writeFileSync(main, `${MAIN}shadow: { keys: [./missing.yaml] }\n`);
    const invalid = await loader.load(main, { generation: 4, env });
    if (!invalid.ok) throw new Error('an invalid candidate must not fail the load');
    expect(invalid.snapshot.shadow).toBeUndefined();
    expect(invalid.snapshot.shadowErrors).toMatchObject([{ file: join(dir, 'missing.yaml'), line: 1 }]);
  });

  it('for an invalid config: the same errors, located', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      MAIN.replace('keys: [./keys.yaml, ./many.yaml]', 'keys: [./keys.yaml, ./missing.yaml]').replace('level: warn', 'level: loud'),
    );
    const direct = loadConfig(bad, { env });
    const aside = await loader.load(bad, { env, generation: 2 });
    expect(aside.ok).toBe(false);
    expect(aside).toEqual(direct);
  });

  it('an aborted load rejects at once and the loader still works', async () => {
    const main = join(dir, 'keygate.yaml');
    const abort = new AbortController();
    const pending = loader.load(main, { generation: 2, env, signal: abort.signal });
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((await loader.load(main, { generation: 3, env })).ok).toBe(true);
  });

  it('a load past its time limit fails and the next load runs on a fresh worker', async () => {
    const main = join(dir, 'keygate.yaml');
    await expect(loader.load(main, { generation: 4, env, timeoutMs: 1 })).rejects.toThrow('timed out');
    expect((await loader.load(main, { generation: 5, env })).ok).toBe(true);
  });
});
