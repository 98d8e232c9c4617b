import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsSources } from '../../src/cli/app.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/observability/metrics.js';
import { readUsageFile } from '../../src/usage/fileStore.js';
import { KeyVerifier } from '../../src/auth/verifier.js';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';
import { parseExposition, valueOf } from '../helpers/promText.js';

/**
 * Key hygiene on fixtures with known times and an injected clock: key list --unused /
 * --sort and report from a state file; rotation due (policy `keys`) in check, list,
 * report, explain (enforce) and the scrape-time metrics.
 */

const NOW = Date.parse('2027-03-01T12:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const { monitoring: MON, deploy: DEP, aliceAdmin: ALICE } = DEMO_KEYS;

async function keygate(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: {}, now: () => NOW });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const minute = (ms: number): number => Math.floor(ms / MIN);

let cfg: TempConfig;
beforeAll(() => {
  cfg = tempConfig('http://127.0.0.1:3000');
  mkdirSync(cfg.path('.keygate-state'));
  // The demo keys were created 2026-11-23; alice's never used.
  const keys = {
    [MON.id]: [minute(NOW - 2 * DAY), minute(NOW - DAY), '10.1.2.3'],
    [DEP.id]: [minute(NOW - 90 * DAY), 0, '10.9.9.9'],
  };
  writeFileSync(cfg.path('.keygate-state/key-usage.json'), JSON.stringify({ format: 'keygate-key-usage/1', keys }));
  // joe's keys may be 90 days old, alice's a year: on NOW joe's (created 2026-11-23) are due.
  cfg.write('policy.yaml', `${cfg.read('policy.yaml')}keys:\n  maxAge: 90d\n  users: { alice: 365d }\n`);
});
afterAll(() => cfg?.cleanup());

const ids = async (...args: string[]): Promise<string[]> => {
  const run = await keygate('key', 'list', '-c', cfg.mainFile, '--json', ...args);
  expect(run.code, run.err).toBe(0);
  return (JSON.parse(run.out) as { id: string }[]).map((k) => k.id);
};

describe('key list and usage', () => {
  it('--json carries lastUsed, lastDenied and lastClient', async () => {
    const run = await keygate('key', 'list', '-c', cfg.mainFile, '--json');
    const byId = Object.fromEntries((JSON.parse(run.out) as { id: string }[]).map((k) => [k.id, k]));
    expect(byId[MON.id]).toMatchObject({ lastUsed: '2027-02-27T12:00:00Z', lastDenied: '2027-02-28T12:00:00Z', lastClient: '10.1.2.3' });
    expect(byId[ALICE.id]).toMatchObject({ lastUsed: null, lastDenied: null, lastClient: null });
  });

  it.each([
    ['30d', [DEP.id, ALICE.id]],
    ['1d', [MON.id, DEP.id, ALICE.id]],
    ['91d', [ALICE.id]], // never used, created 98 days ago
    ['120d', []],
  ])('--unused %s lists keys without an allowed use for that long', async (span, expected) => {
    expect(await ids('--unused', span)).toEqual(expected);
  });

  it('--sort last-used puts never-used keys first, then the stalest', async () => {
    expect(await ids('--sort', 'last-used')).toEqual([ALICE.id, DEP.id, MON.id]);
    const table = await keygate('key', 'list', '-c', cfg.mainFile, '--sort', 'last-used');
    expect(table.out.split('\n')[1]).toMatch(new RegExp(`^${ALICE.id} .* never `));
  });

  it.each([
    ['--unused', 'soon'],
    ['--unused', '0d'],
    ['--sort', 'last-usd'],
  ])('%s %s is a usage error (exit 2)', async (option, value) => {
    const run = await keygate('key', 'list', '-c', cfg.mainFile, option, value);
    expect(run.code).toBe(2);
  });

  it('key show prints the last use and client', async () => {
    const run = await keygate('key', 'show', '-c', cfg.mainFile, MON.id);
    expect(run.out).toContain('last used: 2027-02-27T12:00:00Z (last client 10.1.2.3)');
  });
});

describe('rotation due (policy keys.maxAge)', () => {
  it('check warns about each key older than its maxAge, and passes', async () => {
    const run = await keygate('check', '-c', cfg.mainFile, '--offline');
    expect(run.code).toBe(0);
    const warned = run.err.split('\n').filter((l) => l.includes('rotation due'));
    expect(warned).toHaveLength(2);
    expect(run.err).toContain(`key ${MON.id}: rotation due since 2027-02-21T10:00:00.000Z`);
    expect(run.err).not.toContain(`key ${ALICE.id}: rotation due`);
    expect((await keygate('check', '-c', cfg.mainFile, '--offline', '--strict')).code).toBe(1);
  });

  it('key list shows the state and when rotation is due; report lists every key with it', async () => {
    const listed = JSON.parse((await keygate('key', 'list', '-c', cfg.mainFile, '--json')).out) as Record<string, unknown>[];
    const byId = Object.fromEntries(listed.map((k) => [k.id, k]));
    expect(byId[MON.id]).toMatchObject({ state: 'rotation_due', rotationDue: '2027-02-21T10:00:00Z' });
    expect(byId[ALICE.id]).toMatchObject({ state: 'active', rotationDue: '2027-11-23T10:00:00Z' });
    expect((await ids('--state', 'rotation_due')).sort()).toEqual([MON.id, DEP.id].sort());

    const report = await keygate('report', '-c', cfg.mainFile, '--json');
    expect(report.code, report.err).toBe(0);
    const parsed = JSON.parse(report.out) as { generated: string; keys: Record<string, unknown>[] };
    expect(parsed.generated).toBe('2027-03-01T12:00:00Z');
    expect(parsed.keys.find((k) => k.id === DEP.id)).toEqual({
      id: DEP.id,
      user: 'joe',
      name: 'deploy',
      scope: 'inherit',
      state: 'rotation_due',
      created: '2026-11-23T10:00:00Z',
      rotated: null,
      expires: null,
      rotationDue: '2027-02-21T10:00:00Z',
      graceUntil: null,
      lastUsed: '2026-12-01T12:00:00Z',
      lastDenied: null,
      lastClient: '10.9.9.9',
    });
    const table = (await keygate('report', '-c', cfg.mainFile)).out.split('\n');
    expect(table[0].split(/\s{2,}/)).toEqual(['ID', 'USER', 'NAME', 'SCOPE', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED', 'ROTATION DUE']);
    expect(table.find((l) => l.startsWith(ALICE.id))).toMatch(/active .* never +2027-11-23T10:00:00Z$/);
  });

  it('keygate_keys{state="rotation_due"} and keygate_keys_unused{days} at scrape time', async () => {
    const loaded = loadConfig(cfg.mainFile, { env: {}, serviceTokens: false });
    if (!loaded.ok) throw new Error('config does not load');
    const usage = await readUsageFile(cfg.path('.keygate-state/key-usage.json'));
    const m = new Metrics({
      defaultMetrics: false,
      now: () => NOW,
      ...metricsSources(
        () => loaded.snapshot,
        () => usage,
      ),
    });
    const exp = parseExposition(await m.metricsText());
    expect(valueOf(exp, 'keygate_keys', { state: 'rotation_due' })).toBe(2);
    expect(valueOf(exp, 'keygate_keys', { state: 'active' })).toBe(1);
    expect(valueOf(exp, 'keygate_keys_unused', { days: '30' })).toBe(2); // deploy (used 90 days ago), alice (never, created 98 days ago)
    expect(valueOf(exp, 'keygate_keys_unused', { days: '90' })).toBe(1);
  });

  it('key rotate restarts the age: the key is active again', async () => {
    const own = tempConfig('http://127.0.0.1:3000');
    try {
      own.write('policy.yaml', `${own.read('policy.yaml')}keys: { maxAge: 90d }\n`);
      const at = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: {}, now: () => NOW });
        return { code, out: out.join('\n'), err: err.join('\n') };
      };
      const show = async (): Promise<Record<string, unknown>> =>
        JSON.parse((await at('key', 'show', '-c', own.mainFile, MON.id, '--json')).out) as Record<string, unknown>;
      expect(await show()).toMatchObject({ state: 'rotation_due' });
      expect((await at('key', 'rotate', '-c', own.mainFile, MON.id)).code).toBe(0);
      expect(await show()).toMatchObject({ state: 'active', rotated: '2027-03-01T12:00:00Z', rotationDue: '2027-05-30T12:00:00Z' });
    } finally {
      own.cleanup();
    }
  });

  it('enforce: true refuses an over-age key as key_expired', async () => {
    const own = tempConfig('http://127.0.0.1:3000');
    try {
      own.write('policy.yaml', `${own.read('policy.yaml')}keys: { maxAge: 90d, enforce: true }\n`);
      const out: string[] = [];
      const code = await main(
        ['explain', '-c', own.mainFile, '--key', MON.id, '--method', 'GET', '--path', '/compute/v2/p1/servers/1', '--json'],
        {
          out: (t) => void out.push(t),
          err: () => undefined,
          env: {},
          now: () => NOW,
        },
      );
      expect(code).toBe(1);
      expect(JSON.parse(out.join('\n'))).toMatchObject({ decision: 'deny', reason: 'key_expired' });
    } finally {
      own.cleanup();
    }
  });
});

describe('policy keys section validation', () => {
  it.each([
    ['keys: { maxAge: soon }', 'keys.maxAge'],
    ['keys: { maxAge: 0d }', 'keys.maxAge must be longer than 0'],
    ['keys: { roles: { nosuchrole: 30d } }', 'unknown role "nosuchrole"'],
    ['keys: { enforce: maybe }', 'keys.enforce'],
    ['keys: { maxAge: 30d, color: blue }', 'color'],
  ])('%s is an error naming policy.yaml', async (section, message) => {
    const own = tempConfig('http://127.0.0.1:3000');
    try {
      own.write('policy.yaml', `${own.read('policy.yaml')}${section}\n`);
      const run = await keygate('check', '-c', own.mainFile, '--offline');
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/policy\.yaml:\d+:\d+: /);
      expect(run.err).toContain(message);
    } finally {
      own.cleanup();
    }
  });

  it('an unknown user under keys.users is a warning', async () => {
    const own = tempConfig('http://127.0.0.1:3000');
    try {
      own.write('policy.yaml', `${own.read('policy.yaml')}keys: { users: { ghost: 30d } }\n`);
      const run = await keygate('check', '-c', own.mainFile, '--offline');
      expect(run.code).toBe(0);
      expect(run.err).toContain('keys.users: no user "ghost"');
    } finally {
      own.cleanup();
    }
  });
});

describe('key rotate --grace', () => {
  const HOUR = 3_600_000;
  const run = async (now: number, ...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), env: {}, now: () => now });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const verifies = async (c: TempConfig, key: string, now: number): Promise<boolean> => {
    const loaded = loadConfig(c.mainFile, { env: {}, serviceTokens: false });
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('; '));
    return (await new KeyVerifier().verify(loaded.snapshot.keys, key, '', now)).ok;
  };

  it('keeps the old secret valid beside the new one until the grace ends; the next edit or key prune removes it', async () => {
    const c = tempConfig('http://127.0.0.1:3000');
    try {
      const rotated = await run(NOW, 'key', 'rotate', '-c', c.mainFile, MON.id, '--grace', '24h', '--json');
      expect(rotated.code, rotated.err).toBe(0);
      const { key: fresh, oldKeyValidUntil } = JSON.parse(rotated.out) as { key: string; oldKeyValidUntil: string };
      expect(oldKeyValidUntil).toBe('2027-03-02T12:00:00Z');
      expect(c.read('keys.yaml')).toContain('previousHashExpires: 2027-03-02T12:00:00Z');
      expect(c.read('keys.yaml')).not.toContain(MON.key.split('_')[2]);
      // Both work during the grace; only the new one after it.
      expect(await verifies(c, MON.key, NOW + HOUR)).toBe(true);
      expect(await verifies(c, fresh, NOW + HOUR)).toBe(true);
      expect(await verifies(c, MON.key, NOW + 24 * HOUR)).toBe(false);
      expect(await verifies(c, fresh, NOW + 24 * HOUR)).toBe(true);

      const shown = JSON.parse((await run(NOW + HOUR, 'key', 'show', '-c', c.mainFile, MON.id, '--json')).out) as Record<string, unknown>;
      expect(shown).toMatchObject({ state: 'active', graceUntil: '2027-03-02T12:00:00Z' });
      expect((await run(NOW + HOUR, 'key', 'list', '-c', c.mainFile)).out).toMatch(new RegExp(`${MON.id} .* active \\(grace\\) `));
      const report = JSON.parse((await run(NOW + HOUR, 'report', '-c', c.mainFile, '--json')).out) as { keys: Record<string, unknown>[] };
      expect(report.keys.find((k) => k.id === MON.id)).toMatchObject({ graceUntil: '2027-03-02T12:00:00Z' });

      // During the grace, prune leaves it; after it, prune removes the old hash and nothing else.
      expect(JSON.parse((await run(NOW + HOUR, 'key', 'prune', '-c', c.mainFile, '--json')).out)).toEqual({ pruned: [] });
      const before = c.read('keys.yaml');
      expect(JSON.parse((await run(NOW + 25 * HOUR, 'key', 'prune', '-c', c.mainFile, '--json')).out)).toEqual({ pruned: [MON.id] });
      const after = c.read('keys.yaml');
      expect(after).not.toContain('previousHash');
      expect(after.split('\n').length).toBe(before.split('\n').length - 2);
      expect(await verifies(c, fresh, NOW + 25 * HOUR)).toBe(true);
    } finally {
      c.cleanup();
    }
  });

  it('an edit of another key after the grace ended drops the old hash too', async () => {
    const c = tempConfig('http://127.0.0.1:3000');
    try {
      expect((await run(NOW, 'key', 'rotate', '-c', c.mainFile, MON.id, '--grace', '1h')).code).toBe(0);
      expect(c.read('keys.yaml')).toContain('previousHash:');
      expect((await run(NOW + 2 * HOUR, 'key', 'revoke', '-c', c.mainFile, DEP.id)).code).toBe(0);
      expect(c.read('keys.yaml')).not.toContain('previousHash');
    } finally {
      c.cleanup();
    }
  });

  it.each([['0s'], ['31d'], ['soon']])('--grace %s is a usage error', async (grace) => {
    const c = tempConfig('http://127.0.0.1:3000');
    try {
      expect((await run(NOW, 'key', 'rotate', '-c', c.mainFile, MON.id, '--grace', grace)).code).toBe(2);
    } finally {
      c.cleanup();
    }
  });
});
