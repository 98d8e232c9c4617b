import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DEMO_KEYS, tempConfig, type TempConfig } from '../helpers/config.js';

/** key list --unused / --sort on a state file with known times, and an injected clock. */

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
