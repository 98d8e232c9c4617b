import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { MAIN, POLICY, KEYS, edit, writeFixture, type Fixture } from './fixtures.js';

/** The service fields that decide how an upstream may read a request (upgrades, overrides). */
let fixture: Fixture | undefined;
afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

function loadWith(serviceLines: string): ReturnType<typeof loadConfig> {
  fixture = writeFixture({ 'keygate.yaml': edit(MAIN, '    timeouts:', `${serviceLines}\n    timeouts:`), 'policy.yaml': POLICY, 'keys.yaml': KEYS, 'compute.token': 't' });
  return loadConfig(fixture.mainFile, { env: {} });
}

function messages(result: ReturnType<typeof loadConfig>): string[] {
  return result.ok ? [] : result.errors.map((e) => `${e.line}:${e.col} ${e.message}`);
}

describe('service request rules', () => {
  it('defaults: websocket upgrades only', () => {
    const result = loadWith('');
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.snapshot.services[0].requests.upgrades).toEqual(['websocket']);
  });

  it('an empty upgrade list refuses every upgrade; names are lower-cased', () => {
    const none = loadWith('    upgrades: []');
    expect(none.ok && none.snapshot.services[0].requests.upgrades).toEqual([]);
    const some = loadWith('    upgrades: [WebSocket, irc]');
    expect(some.ok && some.snapshot.services[0].requests.upgrades).toEqual(['websocket', 'irc']);
  });

  it.each([
    ['h2c', 'h2c is never proxied'],
    ['"web socket"', 'not an upgrade protocol name'],
    ['"websocket/13"', 'not an upgrade protocol name'],
  ])('upgrades: [%s] is an error at its position', (value, message) => {
    const errors = messages(loadWith(`    upgrades: [${value}]`));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^8:16 /);
    expect(errors[0]).toContain(message);
  });
});
