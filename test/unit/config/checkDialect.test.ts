import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { KEYS, MAIN, POLICY, writeFixture, type Fixture } from './fixtures.js';

let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function load(listen: string): ReturnType<typeof loadConfig> {
  fixture = writeFixture({ 'keygate.yaml': `${MAIN}listen:\n${listen}`, 'policy.yaml': POLICY, 'keys.yaml': KEYS, 'compute.token': 't' });
  return loadConfig(fixture.mainFile, { env: {} });
}

describe('listen.check dialect', () => {
  it('a pinned dialect, no warning', () => {
    const result = load('  check: { address: 127.0.0.1:9191, dialect: nginx }\n');
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.snapshot.listen.check?.port).toBe(9191);
    expect(result.snapshot.listen.checkDialect).toBe('nginx');
    expect(result.warnings).toEqual([]);
  });

  it('an explicit auto, no warning', () => {
    const result = load('  check: { address: 127.0.0.1:9191, dialect: auto }\n');
    expect(result.ok && result.snapshot.listen.checkDialect).toBe('auto');
    expect(result.warnings).toEqual([]);
  });

  it('a bare address is auto, with a warning at its position', () => {
    const result = load('  check: 127.0.0.1:9191\n');
    expect(result.ok && result.snapshot.listen.checkDialect).toBe('auto');
    expect(result.warnings.map((w) => `${w.line}:${w.col}`)).toEqual(['12:10']);
    expect(result.warnings[0].message).toContain('dialect');
  });

  it('an unknown dialect is an error', () => {
    const result = load('  check: { address: 127.0.0.1:9191, dialect: haproxy }\n');
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([expect.stringContaining('listen.check.dialect must be one of')]);
  });
});
