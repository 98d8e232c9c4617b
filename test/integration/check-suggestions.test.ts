import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { tempConfig, type TempConfig } from '../helpers/config.js';

/** `keygate check` suggests the closest name for a misspelt role, service, user, field or rate limit. */

interface Issue {
  file: string;
  line: number;
  message: string;
}

let cfg: TempConfig;
let report: { ok: boolean; errors: Issue[]; warnings: Issue[] };

function edit(name: string, from: string, to: string): void {
  const text = cfg.read(name);
  if (!text.includes(from)) throw new Error(`${name} has no "${from}"`);
  cfg.write(name, text.replace(from, to));
}

beforeAll(() => {
  cfg = tempConfig('http://127.0.0.1:3000');
  edit('policy.yaml', 'roles: [compute-admin, reader]', 'roles: [compute-admn, reader]');
  edit('policy.yaml', '{ service: identity, path: "/v3/**" }', '{ service: identiy, path: "/v3/**" }');
  edit('policy.yaml', 'rateLimit: standard', 'rateLimit: standrd');
  edit('policy.yaml', 'scraper: { rate: 20/s, burst: 40 }', 'scraper: { rate: 20/s, burst: 40, service: comptue }');
  edit('policy.yaml', 'expires: 2030-06-30T00:00:00Z', 'expirse: 2030-06-30T00:00:00Z');
  edit('keygate.yaml', 'timeouts: { connect: 2s, response: 30s }', 'timeouts: { conect: 2s, response: 30s }');
  const run = runCli(['check', '--offline', '--json', '-c', cfg.mainFile]);
  expect(run.code, run.err).toBe(1);
  report = JSON.parse(run.out) as typeof report;
});
afterAll(() => cfg.cleanup());

describe('check suggestions (one run of the real CLI, every mistake at once)', () => {
  it.each([
    ['a role', 'policy.yaml', 'unknown role "compute-admn"; did you mean "compute-admin"?'],
    ['a service in a rule', 'policy.yaml', 'unknown service "identiy"; did you mean "identity"?'],
    ['a service of a rate limit', 'policy.yaml', 'unknown service "comptue"; did you mean "compute"?'],
    ['a rate limit of a user', 'policy.yaml', 'unknown rate limit "standrd"; did you mean "standard"?'],
    ['a field in the policy', 'policy.yaml', 'unknown field "expirse" in user joe (did you mean "expires"?)'],
    ['a field in keygate.yaml', 'keygate.yaml', 'unknown field "conect"'],
  ])('%s', (_, file, text) => {
    const issue = report.errors.find((e) => e.message.includes(text));
    expect(issue, JSON.stringify(report.errors, null, 1)).toBeDefined();
    expect(issue!.file).toBe(cfg.path(file));
    expect(issue!.line).toBeGreaterThan(0);
  });

  it('a field of a nested mapping is suggested from that mapping’s fields', () => {
    expect(report.errors.some((e) => /unknown field "conect".*did you mean "connect"\?/.test(e.message))).toBe(true);
  });
});

describe('check suggestions in keys files (checked once the policy loads; the CLI in-process)', () => {
  it('a rate limit of a key (error) and the user of a key (warning: the key is dead)', async () => {
    const keys = tempConfig('http://127.0.0.1:3000');
    try {
      keys.write(
        'keys.yaml',
        keys.read('keys.yaml').replace('user: alice', 'user: alicee').replace('rateLimit: scraper', 'rateLimit: scrapr'),
      );
      const out: string[] = [];
      const code = await main(['check', '--offline', '--json', '-c', keys.mainFile], {
        out: (t) => void out.push(t),
        err: () => undefined,
        env: {},
        now: Date.now,
      });
      expect(code).toBe(1);
      const r = JSON.parse(out.join('')) as typeof report;
      expect(r.errors.map((e) => e.message)).toContainEqual(
        expect.stringContaining('unknown rate limit "scrapr"; did you mean "scraper"?'),
      );
      expect(r.warnings.map((w) => w.message)).toContainEqual(
        expect.stringContaining('user "alicee" is not in the policy; did you mean "alice"?'),
      );
    } finally {
      keys.cleanup();
    }
  });
});
