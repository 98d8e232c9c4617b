import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/io.js';
import { isoSeconds, parseCidrArgs, parseRuleArg, parseTimeArg } from '../../../src/cli/keyArgs.js';

const NOW = Date.parse('2026-11-23T10:00:00.250Z');

describe('parseRuleArg', () => {
  it.each([
    ['an alias', 'compute read /v2/**', { service: 'compute', method: 'read', path: '/v2/**' }],
    ['a method list', 'compute GET,POST /v2/*/servers/**', { service: 'compute', method: ['GET', 'POST'], path: '/v2/*/servers/**' }],
    ['any service and method', '* * /**', { service: '*', method: '*', path: '/**' }],
    ['one region', 'identity write /v3/** region=eu-west-1', { region: 'eu-west-1', service: 'identity', method: 'write', path: '/v3/**' }],
    [
      'two regions',
      'compute GET /x region=eu-west-1,us-east-1',
      { region: ['eu-west-1', 'us-east-1'], service: 'compute', method: 'GET', path: '/x' },
    ],
    ['extra spaces', '  compute   GET   /{id}  ', { service: 'compute', method: 'GET', path: '/{id}' }],
  ])('reads %s', (_what, text, spec) => {
    expect(parseRuleArg(text, '--allow')).toEqual(spec);
  });

  it.each([
    ['too few parts', 'compute GET'],
    ['too many parts', 'compute GET /x region=a extra'],
    ['an empty string', ''],
    ['a path without a slash', 'compute GET v2/**'],
    ['a bad method', 'compute G@T /x'],
    ['an empty method in a list', 'compute GET,,POST /x'],
    ['a bad service name', 'Compute! GET /x'],
    ['a fourth part that is not region=', 'compute GET /x eu-west-1'],
    ['an empty region list', 'compute GET /x region='],
    ['a bad path pattern', 'compute GET /a/**x'],
  ])('rejects %s with a usage error naming the syntax', (_what, text) => {
    expect(() => parseRuleArg(text, '--deny')).toThrow(UsageError);
    expect(() => parseRuleArg(text, '--deny')).toThrow(expect.objectContaining({ code: 'KEYGATE_USAGE' }));
  });
});

describe('parseTimeArg', () => {
  it.each([
    ['30d', NOW + 30 * 86_400_000],
    ['12h', NOW + 12 * 3_600_000],
    ['90m', NOW + 90 * 60_000],
  ])('reads the duration %s as from now, in whole seconds', (text, expected) => {
    expect(parseTimeArg(text, '--expires', NOW)).toBe(Math.floor(expected / 1000) * 1000);
  });

  it.each([
    ['2027-01-01', '2027-01-01T00:00:00Z'],
    ['2027-01-01T12:30:00Z', '2027-01-01T12:30:00Z'],
    ['2027-01-01T12:30:00+02:00', '2027-01-01T10:30:00Z'],
  ])('reads the date %s', (text, iso) => {
    expect(isoSeconds(parseTimeArg(text, '--expires', NOW))).toBe(iso);
  });

  it.each(['30x', 'tomorrow', '0s', '2027-13-01', '2027-02-30', '-5d', ''])('rejects %j', (text) => {
    expect(() => parseTimeArg(text, '--expires', NOW)).toThrow(UsageError);
  });
});

describe('parseCidrArgs', () => {
  it('accepts v4 and v6 ranges and plain addresses', () => {
    expect(parseCidrArgs(['10.0.0.0/8', '::1/128', '192.0.2.7'], '--source-ip')).toEqual(['10.0.0.0/8', '::1/128', '192.0.2.7']);
  });

  it.each(['10.0.0.0/33', '10.0.0/8', 'fe80::/129', 'localhost'])('rejects %s', (text) => {
    expect(() => parseCidrArgs([text], '--source-ip')).toThrow(expect.objectContaining({ code: 'KEYGATE_USAGE' }));
  });
});
