import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFast } from '../../src/auth/hash.js';
import { KeyVerifier } from '../../src/auth/verifier.js';
import { CommandFailed } from '../../src/cli/io.js';
import { writeKeys } from '../../src/cli/keyStore.js';
import { main } from '../../src/cli/main.js';
import { appendKeys } from '../../src/keys/editor.js';
import { loadConfig } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const MAIN = pathToFileURL(join(ROOT, 'src/cli/main.ts')).href;
const NOW = Date.parse('2026-11-23T12:00:00Z');
const HOUR = 3_600_000;

// ── helpers ──────────────────────────────────────────────────────────────────

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface TempConfig {
  dir: string;
  main: string;
  keys: string;
  policy: string;
  read(): string;
}

/** A private copy of config/ (main, policy, keys, token files). */
function tempConfig(): TempConfig {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-keys-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'config'), dir, { recursive: true });
  const keys = join(dir, 'keys.yaml');
  return { dir, main: join(dir, 'keygate.yaml'), keys, policy: join(dir, 'policy.yaml'), read: () => readFileSync(keys, 'utf8') };
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The CLI in-process, with a fixed clock. */
async function keygate(args: string[], now = NOW): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: process.env, now: () => now });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function json<T>(args: string[], now = NOW): Promise<T> {
  const run = await keygate([...args, '--json'], now);
  expect(run.code, run.err).toBe(0);
  return JSON.parse(run.out) as T;
}

/** The CLI as a real process (from source, so no build is needed). */
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;
const nodeArgs = (args: string[]): string[] => ['--import', TSX, '--input-type=module', '-e', RUNNER, '--', ...args];

function keygateProcess(args: string[]): Run {
  const r = spawnSync(process.execPath, nodeArgs(args), { encoding: 'utf8', cwd: ROOT });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function load(c: TempConfig): Snapshot {
  const result = loadConfig(c.main);
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.snapshot;
}

async function verifies(c: TempConfig, presented: string): Promise<boolean> {
  return (await new KeyVerifier().verify(load(c).keys, presented)).ok;
}

interface Created {
  id: string;
  key: string;
  user: string;
  name: string;
  scope: string;
  file: string;
  warnings: string[];
}

const create = (c: TempConfig, ...args: string[]): Promise<Created> => json<Created>(['key', 'create', '-c', c.main, ...args]);

/** The lines of `text` without the entry of key `id`: its `- id:` line and the lines indented deeper than its dash. */
function withoutEntry(text: string, id: string): string[] {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.includes(`- id: ${id}`));
  if (from === -1) return lines;
  const dash = lines[from].indexOf('-');
  const next = lines.findIndex((l, i) => i > from && l.trim() !== '' && l.search(/\S/) <= dash);
  return [...lines.slice(0, from), ...lines.slice(next === -1 ? lines.length : next)];
}

// ── key create ───────────────────────────────────────────────────────────────

describe('key create', () => {
  it('prints the key once as JSON, stores only its hash, and the key verifies', async () => {
    const c = tempConfig();
    const created = await create(
      c,
      '--user',
      'joe',
      '--name',
      'ci',
      '--allow',
      'compute read /v2/**',
      '--allow',
      'compute GET,POST /v2/*/servers/** region=eu-west-1',
    );
    expect(created).toMatchObject({ user: 'joe', name: 'ci', scope: 'restricted', file: c.keys, warnings: [] });
    expect(created.key).toMatch(new RegExp(`^kg_${created.id}_[0-9A-Za-z]{49}$`));
    const secret = created.key.slice(16, 59);
    const text = c.read();
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(secret);
    expect(text).toContain(`hash: "${hashFast(secret)}"`);
    expect(await verifies(c, created.key)).toBe(true);
    expect(await verifies(c, created.key.replace(/.{7}$/, '0000000'))).toBe(false);
  });

  it('says in human output that the key will not be shown again, and what it can do', async () => {
    const c = tempConfig();
    const run = await keygate(['key', 'create', '-c', c.main, '--user', 'joe', '--name', 'ci', '--allow', 'compute read /v2/**']);
    expect(run.code).toBe(0);
    const keys: string[] = run.out.match(/kg_[0-9A-Za-z_]+/g) ?? [];
    expect(keys).toHaveLength(1);
    expect(run.out).toMatch(/will not be shown again/);
    expect(run.out).toContain('  + compute GET,HEAD /v2/**');
    expect(await verifies(c, keys[0])).toBe(true);
  });

  it('writes every flag into the entry', async () => {
    const c = tempConfig();
    const { id } = await create(
      c,
      '--user',
      'joe',
      '--name',
      'ci',
      '--allow',
      'compute read /v2/**',
      '--deny',
      'compute GET /v2/secret/**',
      '--source-ip',
      '10.0.0.0/8',
      '--source-ip',
      '::1/128',
      '--expires',
      '30d',
      '--not-before',
      '12h',
      '--comment',
      'CI: nightly # builds',
    );
    const key = load(c).keys.byId.get(id)!;
    expect(key).toMatchObject({
      user: 'joe',
      name: 'ci',
      scope: 'restricted',
      disabled: false,
      legacy: false,
      comment: 'CI: nightly # builds',
      created: '2026-11-23T12:00:00Z',
    });
    expect(key.allow.rules.map((r) => r.path.text)).toEqual(['/v2/**']);
    expect(key.deny.rules.map((r) => r.path.text)).toEqual(['/v2/secret/**']);
    expect(key.sourceIPs?.text).toEqual(['10.0.0.0/8', '::1/128']);
    expect(key.expires).toBe(NOW + 30 * 24 * HOUR);
    expect(key.notBefore).toBe(NOW + 12 * HOUR);
    expect(c.read()).toContain('      - { service: compute, method: read, path: "/v2/**" }\n');
  });

  it('--rate-limit names a policy limit: the key gets its own bucket; an unknown name writes nothing', async () => {
    const c = tempConfig();
    const { id } = await create(c, '--user', 'joe', '--name', 'scraper', '--read-only', '--rate-limit', 'scraper');
    expect(withoutEntry(c.read(), id)).not.toContain('rateLimit: scraper');
    expect(c.read()).toContain('rateLimit: scraper');
    expect(
      load(c)
        .rateLimits.byKey.get(id)
        ?.map((l) => l.name),
    ).toEqual(['scraper']);
    const before = c.read();
    const run = await keygate(['key', 'create', '-c', c.main, '--user', 'joe', '--name', 'x', '--read-only', '--rate-limit', 'scrapr']);
    expect(run.code).toBe(1);
    expect(run.err).toContain('unknown rate limit "scrapr"');
    expect(c.read()).toBe(before);
  });

  it('--read-only is a restricted key with { service: "*", method: read, path: "/**" }', async () => {
    const c = tempConfig();
    const { id, scope } = await create(c, '--user', 'alice', '--name', 'ro', '--read-only');
    expect(scope).toBe('restricted');
    const [rule] = load(c).keys.byId.get(id)!.allow.rules;
    expect([rule.service, [...rule.methods!], rule.path.text]).toEqual(['*', ['GET', 'HEAD'], '/**']);
  });

  it('--inherit with --deny', async () => {
    const c = tempConfig();
    const { id } = await create(c, '--user', 'joe', '--name', 'deploy', '--inherit', '--deny', 'compute DELETE /**');
    const key = load(c).keys.byId.get(id)!;
    expect(key.scope).toBe('inherit');
    expect(key.allow.size).toBe(0);
    expect(key.deny.rules.map((r) => [...r.methods!])).toEqual([['DELETE']]);
  });

  it('--expires and --not-before take dates as well as durations', async () => {
    const c = tempConfig();
    const { id } = await create(
      c,
      '--user',
      'joe',
      '--name',
      'x',
      '--read-only',
      '--not-before',
      '2027-01-01',
      '--expires',
      '2027-06-30T12:00:00+02:00',
    );
    const key = load(c).keys.byId.get(id)!;
    expect(key.notBefore).toBe(Date.parse('2027-01-01T00:00:00Z'));
    expect(key.expires).toBe(Date.parse('2027-06-30T10:00:00Z'));
  });

  it('writes to the first keys file, or to the one --keys-file names', async () => {
    const c = tempConfig();
    writeFileSync(c.main, readFileSync(c.main, 'utf8').replace('keys: [./keys.yaml]', 'keys: [./keys.yaml, ./team.yaml]'));
    writeFileSync(join(c.dir, 'team.yaml'), '# team keys\nkeys: []\n');
    const first = await create(c, '--user', 'joe', '--name', 'a', '--read-only');
    const second = await create(c, '--user', 'joe', '--name', 'b', '--read-only', '--keys-file', join(c.dir, 'team.yaml'));
    expect(first.file).toBe(c.keys);
    expect(second.file).toBe(join(c.dir, 'team.yaml'));
    expect(readFileSync(join(c.dir, 'team.yaml'), 'utf8')).toContain(`- id: ${second.id}`);
    expect(load(c).keys.byId.get(second.id)?.file).toBe(join(c.dir, 'team.yaml'));
  });

  it('allows a key that asks for more than its user can do, warning with what is effective', async () => {
    const c = tempConfig();
    const run = await keygate([
      'key',
      'create',
      '-c',
      c.main,
      '--user',
      'joe',
      '--name',
      'wide',
      '--allow',
      'compute * /v2/**',
      '--allow',
      'identity write /**',
    ]);
    expect(run.code).toBe(0);
    expect(run.err).toContain(
      'warning: allow rule "compute * /v2/**" asks for more than user joe can do; effective: compute * /v2/*/servers/**; compute GET,HEAD /v2/**',
    );
    expect(run.err).toContain(
      'warning: allow rule "identity POST,PUT,PATCH,DELETE /**" asks for more than user joe can do; effective: nothing',
    );
  });

  it('warns that a key of a disabled user does not work', async () => {
    const c = tempConfig();
    const created = await create(c, '--user', 'mallory', '--name', 'x', '--read-only');
    expect(created.warnings).toEqual(['user mallory is disabled, so this key does not work until the user is enabled']);
  });

  it.each([
    ['an unknown user', ['--user', 'nobody', '--name', 'x', '--read-only'], 1, /unknown user "nobody"/],
    ['a rule naming an unknown service', ['--user', 'joe', '--name', 'x', '--allow', 'billing GET /x'], 1, /unknown service "billing"/],
    [
      'a bad CIDR',
      ['--user', 'joe', '--name', 'x', '--read-only', '--source-ip', '10.0.0.0/33'],
      2,
      /--source-ip: "10.0.0.0\/33" has a bad prefix length/,
    ],
    ['a CIDR that is not an address', ['--user', 'joe', '--name', 'x', '--read-only', '--source-ip', 'intranet'], 2, /not an IP address/],
    ['a bad duration', ['--user', 'joe', '--name', 'x', '--read-only', '--expires', '30x'], 2, /--expires "30x" is neither a duration/],
    ['a bad --not-before', ['--user', 'joe', '--name', 'x', '--read-only', '--not-before', 'soon'], 2, /--not-before "soon"/],
    ['an expiry in the past', ['--user', 'joe', '--name', 'x', '--read-only', '--expires', '2020-01-01'], 2, /in the past/],
    [
      '--not-before after --expires',
      ['--user', 'joe', '--name', 'x', '--read-only', '--expires', '1d', '--not-before', '2d'],
      2,
      /--not-before must be earlier/,
    ],
    [
      'a malformed rule string',
      ['--user', 'joe', '--name', 'x', '--allow', 'compute /v2/**'],
      2,
      /--allow "compute \/v2\/\*\*": has 2 part\(s\); expected "SERVICE METHOD PATH/,
    ],
    [
      'a rule with a bad method',
      ['--user', 'joe', '--name', 'x', '--deny', 'compute G@T /x', '--read-only'],
      2,
      /"G@T" is not an HTTP method/,
    ],
    ['a rule with a bad region part', ['--user', 'joe', '--name', 'x', '--allow', 'compute GET /x eu'], 2, /region=NAME/],
    ['no scope at all', ['--user', 'joe', '--name', 'x'], 2, /--allow RULE .*--read-only.*--inherit/],
    ['two scopes', ['--user', 'joe', '--name', 'x', '--inherit', '--allow', 'compute GET /x'], 2, /cannot be combined/],
    ['no --user', ['--name', 'x', '--read-only'], 2, /--user is required/],
    ['no --name', ['--user', 'joe', '--read-only'], 2, /--name is required/],
    ['an unknown flag', ['--user', 'joe', '--name', 'x', '--read-only', '--admin'], 2, /--admin/],
    [
      'a --keys-file that is not listed',
      ['--user', 'joe', '--name', 'x', '--read-only', '--keys-file', '/etc/passwd'],
      2,
      /not one of the keys files/,
    ],
  ])('fails on %s without writing anything', async (_what, args, exit, message) => {
    const c = tempConfig();
    const before = c.read();
    const run = await keygate(['key', 'create', '-c', c.main, ...args]);
    expect(run.code).toBe(exit);
    expect(run.err).toMatch(message);
    expect(run.out).toBe('');
    expect(c.read()).toBe(before);
    expect(readdirSync(c.dir).sort()).toEqual(['keygate.yaml', 'keys.yaml', 'policy.yaml', 'secrets']);
  });
});

// ── key list ─────────────────────────────────────────────────────────────────

interface Listing {
  id: string;
  user: string;
  state: string;
  expires: string | null;
  [field: string]: unknown;
}

describe('key list', () => {
  it('shows id, user, name, scope, state, last used, expires and comment as a table', async () => {
    const c = tempConfig();
    const run = await keygate(['key', 'list', '-c', c.main]);
    expect(run.code).toBe(0);
    const [header, ...rows] = run.out.split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['ID', 'USER', 'NAME', 'SCOPE', 'STATE', 'LAST USED', 'EXPIRES', 'COMMENT']);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^DT7nOCBZHjkw +joe +monitoring +restricted +active +never +- +grafana scraper \(demo\)$/);
  });

  it('reports every state', async () => {
    const c = tempConfig();
    const expiring = await create(c, '--user', 'joe', '--name', 'short', '--read-only', '--expires', '1h');
    const later = await create(c, '--user', 'joe', '--name', 'later', '--read-only', '--not-before', '1d');
    expect((await keygate(['key', 'revoke', '-c', c.main, 'ZzPjRE9uyI9s'])).code).toBe(0);
    writeFileSync(
      c.keys,
      appendKeys(c.read(), [{ id: 'GhostGhost00', user: 'ghost', name: 'left over', hash: hashFast('x'), scope: 'inherit' }]),
    );
    const states = async (now: number): Promise<Record<string, string>> =>
      Object.fromEntries((await json<Listing[]>(['key', 'list', '-c', c.main], now)).map((k) => [k.id, k.state]));
    expect(await states(NOW)).toEqual({
      DT7nOCBZHjkw: 'active',
      ZzPjRE9uyI9s: 'disabled',
      J5fIC0OTO4Co: 'active',
      [expiring.id]: 'active',
      [later.id]: 'not_yet_valid',
      GhostGhost00: 'orphaned',
    });
    expect(await states(NOW + 2 * HOUR)).toMatchObject({ [expiring.id]: 'expired' });
    const table = (await keygate(['key', 'list', '-c', c.main])).out;
    expect(table).toMatch(new RegExp(`${expiring.id} +joe +short +restricted +active +never +2026-11-23T13:00:00Z`));
    expect(table).toMatch(/GhostGhost00 +ghost +left over +inherit +orphaned/);
  });

  it('--json prints an array without hashes, each with a state', async () => {
    const c = tempConfig();
    const run = await keygate(['key', 'list', '-c', c.main, '--json']);
    const list = JSON.parse(run.out) as Listing[];
    expect(list.map((k) => k.id)).toEqual(['DT7nOCBZHjkw', 'ZzPjRE9uyI9s', 'J5fIC0OTO4Co']);
    expect(list[0]).toMatchObject({
      user: 'joe',
      name: 'monitoring',
      scope: 'restricted',
      state: 'active',
      expires: null,
      comment: 'grafana scraper (demo)',
    });
    expect(list.every((k) => !('hash' in k))).toBe(true);
    expect(run.out).not.toMatch(/sha256|scrypt|\$/);
  });

  it('--user filters', async () => {
    const c = tempConfig();
    expect((await json<Listing[]>(['key', 'list', '-c', c.main, '--user', 'alice'])).map((k) => k.id)).toEqual(['J5fIC0OTO4Co']);
    expect(await json<Listing[]>(['key', 'list', '-c', c.main, '--user', 'nobody'])).toEqual([]);
    expect((await keygate(['key', 'list', '-c', c.main, '--user', 'nobody'])).out).toBe('no keys for user nobody');
  });
});

// ── revoke, delete, rotate ───────────────────────────────────────────────────

describe('key revoke', () => {
  it('sets disabled: true, keeps the entry, and changes only that line', async () => {
    const c = tempConfig();
    const before = c.read();
    const run = await keygate(['key', 'revoke', '-c', c.main, 'DT7nOCBZHjkw']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/Revoked key DT7nOCBZHjkw .*stays .*for audit/);
    const after = c.read();
    const added = after.split('\n').filter((l, i) => l !== before.split('\n')[i]);
    expect(after.split('\n').filter((l) => l !== '    disabled: true')).toEqual(before.split('\n'));
    expect(added[0]).toBe('    disabled: true');
    expect(load(c).keys.byId.get('DT7nOCBZHjkw')?.disabled).toBe(true);
  });

  it('is idempotent and says so', async () => {
    const c = tempConfig();
    await keygate(['key', 'revoke', '-c', c.main, 'DT7nOCBZHjkw']);
    const once = c.read();
    const again = await json<{ action: string }>(['key', 'revoke', '-c', c.main, 'DT7nOCBZHjkw']);
    expect(again.action).toBe('already_revoked');
    expect(c.read()).toBe(once);
  });

  it('flips an existing disabled: false in place', async () => {
    const c = tempConfig();
    writeFileSync(c.keys, c.read().replace('    comment: grafana', '    disabled: false   # on\n    comment: grafana'));
    const before = c.read();
    await keygate(['key', 'revoke', '-c', c.main, 'DT7nOCBZHjkw']);
    expect(c.read()).toBe(before.replace('    disabled: false   # on', '    disabled: true    # on'));
  });
});

describe('key delete', () => {
  it('removes the entry and leaves every other line as it was', async () => {
    const c = tempConfig();
    const before = c.read();
    const run = await keygate(['key', 'delete', '-c', c.main, 'ZzPjRE9uyI9s']);
    expect(run.code).toBe(0);
    expect(c.read().split('\n')).toEqual(withoutEntry(before, 'ZzPjRE9uyI9s'));
    expect(load(c).keys.byId.has('ZzPjRE9uyI9s')).toBe(false);
  });

  it('warns when a guardrail still names the deleted key', async () => {
    const c = tempConfig();
    writeFileSync(c.policy, readFileSync(c.policy, 'utf8').replace('except: []', 'except: [J5fIC0OTO4Co]'));
    const run = await keygate(['key', 'delete', '-c', c.main, 'J5fIC0OTO4Co']);
    expect(run.code).toBe(0);
    expect(run.err).toContain('warning: guardrail except names unknown key id "J5fIC0OTO4Co"');
  });
});

describe('key rotate', () => {
  it('gives the key a new secret: the old key string stops verifying, the new one works', async () => {
    const c = tempConfig();
    const created = await create(c, '--user', 'joe', '--name', 'ci', '--allow', 'compute read /v2/**', '--source-ip', '10.0.0.0/8');
    const before = c.read();
    const rotated = await json<Created>(['key', 'rotate', '-c', c.main, created.id]);
    expect(rotated).toMatchObject({ id: created.id, user: 'joe', name: 'ci', scope: 'restricted' });
    expect(rotated.key).not.toBe(created.key);
    expect(rotated.key.startsWith(`kg_${created.id}_`)).toBe(true);
    expect(await verifies(c, created.key)).toBe(false);
    expect(await verifies(c, rotated.key)).toBe(true);
    const old = new Set(before.split('\n'));
    const changed = c
      .read()
      .split('\n')
      .filter((l) => !old.has(l));
    // The hash, and when it was replaced (the key's age for policy keys.maxAge restarts).
    expect(changed).toEqual([
      `    hash: "${hashFast(rotated.key.slice(16, 59))}"`,
      `    rotated: ${new Date(NOW).toISOString().replace('.000Z', 'Z')}`,
    ]);
    expect(c.read().split('\n').length).toBe(before.split('\n').length + 1);
    expect(
      load(c)
        .keys.byId.get(created.id)!
        .allow.rules.map((r) => r.path.text),
    ).toEqual(['/v2/**']);
  });

  it('says in human output that the new key will not be shown again', async () => {
    const c = tempConfig();
    const run = await keygate(['key', 'rotate', '-c', c.main, 'DT7nOCBZHjkw']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/kg_DT7nOCBZHjkw_\w+/);
    expect(run.out).toMatch(/will not be shown again/);
    expect(run.out).toMatch(/old key stops working/);
  });
});

describe('unknown and missing ids', () => {
  it.each(['revoke', 'delete', 'rotate'])('key %s: unknown id → exit 1, missing id → exit 2, nothing written', async (command) => {
    const c = tempConfig();
    const before = c.read();
    const unknown = await keygate(['key', command, '-c', c.main, 'NoSuchKey000']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('unknown key id "NoSuchKey000"');
    expect((await keygate(['key', command, '-c', c.main])).code).toBe(2);
    expect((await keygate(['key', command, '-c', c.main, 'a', 'b'])).code).toBe(2);
    expect(c.read()).toBe(before);
  });

  it('an unknown key subcommand is a usage error', async () => {
    expect((await keygate(['key', 'enable'])).code).toBe(2);
    expect((await keygate(['key'])).code).toBe(2);
  });
});

// ── key import ───────────────────────────────────────────────────────────────

describe('key import', () => {
  const LOW = ['hunter2', 'Summer2024!'];
  const HIGH = randomBytes(32).toString('base64url');

  function legacyList(c: TempConfig, lines: string[]): string {
    const from = join(c.dir, 'legacy.txt');
    writeFileSync(from, lines.join('\n'));
    return from;
  }

  it('hashes each secret (scrypt when low-entropy), creates disabled legacy keys, and stores no plaintext', async () => {
    const c = tempConfig();
    const from = legacyList(c, ['# exported from the old gateway', LOW[0], '', `  ${HIGH}  `, '# more', LOW[1], '']);
    const listText = readFileSync(from, 'utf8');
    const run = await keygate(['key', 'import', '-c', c.main, '--user', 'alice', '--from', from]);
    expect(run.code, run.err).toBe(0);
    const text = c.read();
    for (const secret of [...LOW, HIGH]) {
      expect(text).not.toContain(secret);
      expect(run.out + run.err).not.toContain(secret);
    }
    expect(readFileSync(from, 'utf8')).toBe(listText);
    const imported = load(c)
      .keys.list()
      .filter((k) => k.legacy);
    expect(imported.map((k) => [k.name, k.hash.algorithm])).toEqual([
      ['legacy.txt:2', 'scrypt'],
      ['legacy.txt:4', 'sha256'],
      ['legacy.txt:6', 'scrypt'],
    ]);
    for (const key of imported) {
      expect(key).toMatchObject({
        user: 'alice',
        scope: 'restricted',
        disabled: true,
        legacy: true,
        comment: 'imported 2026-11-23; awaiting review',
      });
      expect(key.allow.size).toBe(0);
      expect(run.out).toContain(`key ${key.id}`);
    }
    expect(imported[1].hash.text).toBe(hashFast(HIGH));
    expect(run.out).toMatch(/line 2: key \w{12} +LOW ENTROPY, scrypt: rotate it/);
    expect(run.out).toMatch(/line 4: key \w{12} +high entropy, sha256/);
    expect(run.err).toMatch(/warning: line 6 \(key \w{12}\): low-entropy secret/);
  });

  it('imported secrets verify as presented, each to its own key', async () => {
    const c = tempConfig();
    const result = await json<{ imported: { line: number; id: string; lowEntropy: boolean }[] }>([
      'key',
      'import',
      '-c',
      c.main,
      '--user',
      'alice',
      '--from',
      legacyList(c, [LOW[0], HIGH]),
    ]);
    expect(result.imported.map((k) => [k.line, k.lowEntropy])).toEqual([
      [1, true],
      [2, false],
    ]);
    const verifier = new KeyVerifier();
    const index = load(c).keys;
    expect(await verifier.verify(index, LOW[0])).toMatchObject({ ok: true, key: { id: result.imported[0].id } });
    expect(await verifier.verify(index, HIGH)).toMatchObject({ ok: true, key: { id: result.imported[1].id } });
    expect((await verifier.verify(index, 'hunter3')).ok).toBe(false);
  });

  it('skips secrets already imported or repeated, so it can be re-run', async () => {
    const c = tempConfig();
    const from = legacyList(c, [LOW[0], HIGH, LOW[0]]);
    const first = await json<{ imported: unknown[]; skipped: { line: number; reason: string }[] }>([
      'key',
      'import',
      '-c',
      c.main,
      '--user',
      'alice',
      '--from',
      from,
    ]);
    expect(first.imported).toHaveLength(2);
    expect(first.skipped).toEqual([{ line: 3, reason: 'same secret as line 1' }]);
    const before = c.read();
    const second = await json<{ imported: unknown[]; skipped: { reason: string }[] }>([
      'key',
      'import',
      '-c',
      c.main,
      '--user',
      'alice',
      '--from',
      from,
    ]);
    expect(second.imported).toEqual([]);
    expect(second.skipped.map((s) => s.reason.replace(/\w{12}$/, 'ID'))).toEqual([
      'already imported as key ID',
      'already imported as key ID',
      'same secret as line 1',
    ]);
    expect(c.read()).toBe(before);
  });

  it('rotating an imported key turns it into a normal keygate key; the legacy secret stops working', async () => {
    const c = tempConfig();
    const { imported } = await json<{ imported: { id: string }[] }>([
      'key',
      'import',
      '-c',
      c.main,
      '--user',
      'alice',
      '--from',
      legacyList(c, [HIGH]),
    ]);
    const rotated = await json<Created & { wasLegacy: boolean }>(['key', 'rotate', '-c', c.main, imported[0].id]);
    expect(rotated.wasLegacy).toBe(true);
    expect(load(c).keys.byId.get(imported[0].id)).toMatchObject({ legacy: false, disabled: true });
    expect(await verifies(c, rotated.key)).toBe(true);
    expect(await verifies(c, HIGH)).toBe(false);
  });

  it.each([
    ['a line with a space', ['ok-secret', 'two words'], /legacy\.txt:2: a legacy secret must be printable ASCII without spaces/],
    ['a keygate key', ['kg_DT7nOCBZHjkw_x'], /legacy\.txt:1: starts with "kg_"/],
    ['a line that is too long', ['x'.repeat(513)], /legacy\.txt:1: a legacy secret must be at most 512 characters/],
  ])('refuses a list with %s (exit 2), writes nothing and never echoes a secret', async (_what, lines, message) => {
    const c = tempConfig();
    const before = c.read();
    const run = await keygate(['key', 'import', '-c', c.main, '--user', 'alice', '--from', legacyList(c, lines)]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    for (const line of lines) expect(run.err).not.toContain(line);
    expect(c.read()).toBe(before);
  });

  it.each([
    ['an unknown user', (c: TempConfig) => ['--user', 'nobody', '--from', legacyList(c, ['abc'])], 1, /unknown user "nobody"/],
    ['a missing list', (c: TempConfig) => ['--user', 'alice', '--from', join(c.dir, 'nope.txt')], 1, /cannot read .*nope\.txt: ENOENT/],
    ['a list with only comments', (c: TempConfig) => ['--user', 'alice', '--from', legacyList(c, ['# none', ''])], 1, /holds no secrets/],
    ['no --from', () => ['--user', 'alice'], 2, /--from is required/],
    ['no --user', (c: TempConfig) => ['--from', legacyList(c, ['abc'])], 2, /--user is required/],
  ])('fails on %s', async (_what, args, exit, message) => {
    const c = tempConfig();
    const before = c.read();
    const run = await keygate(['key', 'import', '-c', c.main, ...args(c)]);
    expect(run.code).toBe(exit);
    expect(run.err).toMatch(message);
    expect(c.read()).toBe(before);
  });
});

// ── the file: formatting, atomicity, locking ────────────────────────────────

describe('the keys file', () => {
  it('keeps comments and formatting of untouched entries byte for byte through every command', async () => {
    const c = tempConfig();
    const commented = c
      .read()
      .replace('  - id: DT7nOCBZHjkw', '  # monitoring, owned by the SRE team\n  - id: DT7nOCBZHjkw          # grafana')
      .replace('    scope: inherit\n    deny:', '    scope:   inherit        # everything joe can do\n    deny:')
      .concat('# end of keys — add new ones above\n');
    writeFileSync(c.keys, commented);
    const created = await create(c, '--user', 'joe', '--name', 'ci', '--read-only');
    let text = c.read();
    expect(withoutEntry(text, created.id)).toEqual(commented.split('\n'));
    for (const args of [
      ['revoke', 'J5fIC0OTO4Co'],
      ['rotate', created.id],
    ]) {
      const before = text;
      expect((await keygate(['key', args[0], '-c', c.main, args[1]])).code).toBe(0);
      text = c.read();
      expect(withoutEntry(text, args[1])).toEqual(withoutEntry(before, args[1]));
    }
    const beforeDelete = text;
    expect((await keygate(['key', 'delete', '-c', c.main, 'J5fIC0OTO4Co'])).code).toBe(0);
    expect(c.read().split('\n')).toEqual(withoutEntry(beforeDelete, 'J5fIC0OTO4Co'));
    expect(c.read()).toContain('  # monitoring, owned by the SRE team\n  - id: DT7nOCBZHjkw          # grafana\n');
    expect(c.read()).toContain('    scope:   inherit        # everything joe can do\n');
    expect(c.read().endsWith('# end of keys — add new ones above\n')).toBe(true);
  });

  it('refuses to write through a symlink (a Kubernetes ConfigMap volume), explaining why', async () => {
    const c = tempConfig();
    mkdirSync(join(c.dir, '..2026_11_23'));
    renameSync(c.keys, join(c.dir, '..2026_11_23', 'keys.yaml'));
    symlinkSync('..2026_11_23', join(c.dir, '..data'));
    symlinkSync('..data/keys.yaml', c.keys);
    const before = c.read();
    for (const args of [
      ['create', '--user', 'joe', '--name', 'x', '--read-only'],
      ['revoke', 'DT7nOCBZHjkw'],
      ['delete', 'DT7nOCBZHjkw'],
    ]) {
      const run = await keygate(['key', args[0], '-c', c.main, ...args.slice(1)]);
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/is a symbolic link \(-> \.\.data\/keys\.yaml\).*Kubernetes ConfigMap or Secret volume/);
    }
    expect(c.read()).toBe(before);
    expect((await keygate(['key', 'list', '-c', c.main])).code).toBe(0);
  });

  it('writes nothing when the edited configuration would not load', async () => {
    const c = tempConfig();
    const before = c.read();
    const plaintext = writeKeys(
      c.main,
      c.keys,
      { out: () => undefined, err: () => undefined, env: process.env, now: () => NOW },
      (current) => current.replace('    name: monitoring\n', '    name: monitoring\n    secret: hunter2\n'),
    );
    await expect(plaintext).rejects.toThrow(CommandFailed);
    await expect(plaintext).rejects.toMatchObject({
      code: 'KEYGATE_FAILED',
      cause: { code: 'KEYGATE_CONFIG_INVALID', issues: [expect.objectContaining({ file: c.keys })] },
    });
    expect(c.read()).toBe(before);
    expect(existsSync(`${c.keys}.lock`)).toBe(false);
  });

  it('loses no key when two processes create keys at the same time', async () => {
    const c = tempConfig();
    const rounds = 8;
    const go = join(c.dir, 'go');
    const writer = (w: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const script = `
        const { existsSync } = await import('node:fs');
        const { main } = await import(${JSON.stringify(MAIN)});
        const io = { out() {}, err: (t) => process.stderr.write(t + '\\n'), env: process.env, now: () => Date.now() };
        process.stdout.write('ready\\n');
        while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
        for (let i = 0; i < ${rounds}; i++) {
          const code = await main(['key', 'create', '-c', ${JSON.stringify(c.main)}, '--user', 'joe', '--name', 'w${w}-' + i, '--read-only'], io);
          if (code !== 0) process.exit(10 + code);
        }`;
        const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child.stdout.once('data', () => ready.push(w));
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? -1));
      });
    const ready: number[] = [];
    const exits = Promise.all([writer(0), writer(1)]);
    while (ready.length < 2) await new Promise((r) => setTimeout(r, 10));
    writeFileSync(go, '');
    expect(await exits).toEqual([0, 0]);
    const names = load(c)
      .keys.list()
      .map((k) => k.name);
    for (let i = 0; i < rounds; i++) expect(names).toEqual(expect.arrayContaining([`w0-${i}`, `w1-${i}`]));
    expect(names).toHaveLength(3 + 2 * rounds);
    expect(readdirSync(c.dir).filter((f) => f.includes('.lock') || f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('exits 0, 1 and 2 as a real process', () => {
    const c = tempConfig();
    const ok = keygateProcess(['key', 'create', '-c', c.main, '--user', 'joe', '--name', 'p', '--read-only', '--json']);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toHaveProperty('key');
    expect(keygateProcess(['key', 'create', '-c', c.main, '--user', 'nobody', '--name', 'p', '--read-only']).code).toBe(1);
    const usage = keygateProcess(['key', 'create', '-c', c.main, '--user', 'joe', '--name', 'p', '--allow', 'compute']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/expected "SERVICE METHOD PATH/);
  }, 30_000);
});

describe('commands that never forward do not need the service token', () => {
  it('key create, key list and explain work without the token file; check still requires it', async () => {
    const c = tempConfig();
    rmSync(join(c.dir, 'secrets'), { recursive: true, force: true });
    const created = await create(c, '--user', 'joe', '--name', 'no-token', '--read-only');
    expect(created.id).toMatch(/^[0-9A-Za-z]{12}$/);
    expect((await keygate(['key', 'list', '-c', c.main])).code).toBe(0);
    expect((await keygate(['explain', '-c', c.main, '--key', created.id, '--method', 'GET', '--path', '/compute/v2/x/servers'])).code).toBe(
      0,
    );
    const check = await keygate(['check', '-c', c.main]);
    expect(check.code).toBe(1);
    expect(check.err).toContain('service token');
  });
});
