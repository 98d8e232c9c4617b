import { describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST_RULES } from '../../../src/config/requestRules.js';
import type { RequestRules } from '../../../src/config/snapshot.js';
import { formMethodOverrides, inspectsForm } from '../../../src/proxy/formOverride.js';
import { checkMethodOverrides, queryMethodOverrides, scanHeaders, upgradeProblem } from '../../../src/proxy/requestMeaning.js';

const rules = (over: Partial<RequestRules> = {}): RequestRules => ({ ...DEFAULT_REQUEST_RULES, ...over });

describe('scanHeaders', () => {
  it('finds upgrades, h2c hints and every override spelling in one pass', () => {
    const found = scanHeaders([
      'Host',
      'x',
      'Upgrade',
      'WebSocket/13, h2c',
      'X_HTTP_Method_Override',
      'delete',
      'x-method-override',
      'PUT',
      'Connection',
      'Upgrade, HTTP2-Settings',
    ]);
    expect(found).toEqual({ upgrades: ['websocket', 'h2c'], h2cHint: true, methodOverrides: ['delete', 'PUT'], hosts: 1 });
  });
  it('an ordinary request finds nothing', () => {
    expect(scanHeaders(['Host', 'x', 'Accept', '*/*', 'Connection', 'keep-alive'])).toEqual({
      upgrades: [],
      h2cHint: false,
      methodOverrides: [],
      hosts: 1,
    });
  });
});

describe('upgradeProblem', () => {
  it.each([
    [['Upgrade', 'websocket'], undefined],
    [['Upgrade', 'h2c'], 'h2c'],
    [['HTTP2-Settings', 'AAA'], 'h2c'],
    [['Upgrade', 'irc'], 'not allowed'],
  ])('%j → %s', (headers, problem) => {
    const p = upgradeProblem(rules(), scanHeaders(headers));
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });
  it('`upgrades: []` refuses websocket', () => {
    expect(upgradeProblem(rules({ upgrades: [] }), scanHeaders(['Upgrade', 'websocket']))).toBeDefined();
  });
});

describe('_method in the query', () => {
  it.each([
    ['?_method=DELETE', ['DELETE'], ''],
    ['?a=1&%5Fmethod=delete&b=2', ['delete'], '?a=1&b=2'],
    ['?a=1;_METHOD=put', ['put'], '?a=1'],
    ['?.method=DELETE', ['DELETE'], ''],
    ['?+_method=DELETE', ['DELETE'], ''],
    ['?_method[]=DELETE&x', ['DELETE'], '?x'],
    ['?_%6Dethod=DELETE', ['DELETE'], ''],
  ])('%s → %j, forwarded as %j when stripped', (query, values, rest) => {
    expect(queryMethodOverrides(query)).toEqual({ values, rest });
  });
  it.each(['', '?a=1', '?methods=DELETE', '?x_method=DELETE', '?q=%20'])('%j has none', (query) => {
    expect(queryMethodOverrides(query)).toBeUndefined();
  });
});

describe('checkMethodOverrides', () => {
  const found = scanHeaders(['X-HTTP-Method-Override', 'DELETE']);
  it('reject refuses; authorize names the method; strip passes', () => {
    expect(checkMethodOverrides(rules(), found, 'POST', '').ok).toBe(false);
    expect(checkMethodOverrides(rules({ methodOverride: 'authorize' }), found, 'POST', '')).toEqual({ ok: true, methods: ['DELETE'] });
    expect(checkMethodOverrides(rules({ methodOverride: 'strip' }), found, 'POST', '?_method=PUT&a')).toEqual({
      ok: true,
      methods: [],
      query: '?a',
    });
  });
  it('an override of the same method passes; a value that is not a token never does', () => {
    expect(checkMethodOverrides(rules(), scanHeaders(['X-HTTP-Method', 'post']), 'POST', '')).toEqual({ ok: true, methods: [] });
    expect(checkMethodOverrides(rules({ methodOverride: 'authorize' }), scanHeaders(['X-HTTP-Method', 'GET /x']), 'POST', '').ok).toBe(
      false,
    );
    expect(
      checkMethodOverrides(rules({ methodOverride: 'authorize' }), scanHeaders(['X-HTTP-Method', 'A'.repeat(33)]), 'POST', '').ok,
    ).toBe(false);
  });
});

describe('_method in form bodies', () => {
  it('only POST bodies of the two form types, unless turned off', () => {
    expect(inspectsForm(rules(), 'POST', 'application/x-www-form-urlencoded; charset=utf-8')).toBe(true);
    expect(inspectsForm(rules(), 'POST', 'Multipart/Form-Data; boundary=x')).toBe(true);
    expect(inspectsForm(rules(), 'POST', 'application/json')).toBe(false);
    expect(inspectsForm(rules(), 'PUT', 'application/x-www-form-urlencoded')).toBe(false);
    expect(inspectsForm(rules({ methodOverrideInBody: false }), 'POST', 'application/x-www-form-urlencoded')).toBe(false);
  });
  it('reads urlencoded and multipart fields', () => {
    expect(formMethodOverrides(Buffer.from('a=1&_method=patch'), 'application/x-www-form-urlencoded')).toEqual(['patch']);
    const multipart = '--b\r\nContent-Disposition: form-data; name=_method\r\nContent-Type: text/plain\r\n\r\nDELETE\r\n--b--\r\n';
    expect(formMethodOverrides(Buffer.from(multipart), 'multipart/form-data; boundary=b')).toEqual(['DELETE']);
    expect(
      formMethodOverrides(
        Buffer.from('--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n_method=DELETE\r\n--b--'),
        'multipart/form-data; boundary=b',
      ),
    ).toEqual([]);
  });
});

describe('Host and TRACE', () => {
  it('counts Host headers in any case', () => {
    expect(scanHeaders(['Host', 'a', 'HOST', 'b']).hosts).toBe(2);
    expect(scanHeaders(['Accept', '*/*']).hosts).toBe(0);
  });
  it('TRACE and TRACK in any case', async () => {
    const { isTrace } = await import('../../../src/proxy/requestMeaning.js');
    expect(['TRACE', 'trace', 'TRACK'].map(isTrace)).toEqual([true, true, true]);
    expect(['GET', 'TRACES', 'POST'].map(isTrace)).toEqual([false, false, false]);
  });
});
