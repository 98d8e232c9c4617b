import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { readOriginal } from '../../../src/check/dialect.js';

/** Just enough of an IncomingMessage: the request line and the raw header list. */
function req(method: string, url: string, raw: string[]): IncomingMessage {
  const distinct: Record<string, string[]> = {};
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    (distinct[name] ??= []).push(raw[i + 1]);
    headers[name] = headers[name] === undefined ? raw[i + 1] : `${headers[name]}, ${raw[i + 1]}`;
  }
  return { method, url, headers, headersDistinct: distinct, rawHeaders: raw } as unknown as IncomingMessage;
}

describe('readOriginal', () => {
  it.each([
    {
      what: 'Envoy: the request line and Host',
      req: req('DELETE', '/compute/v2/x?y=1', ['Host', 'api.example.com']),
      original: { dialect: 'envoy', method: 'DELETE', target: '/compute/v2/x?y=1', host: 'api.example.com' },
    },
    {
      what: 'nginx: X-Original-*, host from X-Forwarded-Host over Host',
      req: req('GET', '/_keygate', [
        'Host',
        '127.0.0.1:9191',
        'X-Original-URI',
        '/compute/v2/x',
        'X-Original-Method',
        'PUT',
        'X-Forwarded-Host',
        'api.example.com',
      ]),
      original: { dialect: 'nginx', method: 'PUT', target: '/compute/v2/x', host: 'api.example.com', removesHeaders: false },
    },
    {
      what: 'nginx: host from Host when X-Forwarded-Host is absent',
      req: req('GET', '/_keygate', ['Host', 'api.example.com', 'X-Original-URI', '/a', 'X-Original-Method', 'GET']),
      original: { dialect: 'nginx', method: 'GET', target: '/a', host: 'api.example.com', removesHeaders: false },
    },
    {
      what: 'Traefik: X-Forwarded-*, never Host',
      req: req('GET', '/', ['Host', 'keygate:9191', 'X-Forwarded-Uri', '/a?b', 'X-Forwarded-Method', 'PATCH']),
      original: { dialect: 'traefik', method: 'PATCH', target: '/a?b', host: undefined, removesHeaders: false },
    },
  ])('$what', ({ req: r, original }) => {
    expect(readOriginal(r)).toEqual({ ok: true, original });
  });

  it.each([
    [
      'both dialects at once',
      ['X-Original-URI', '/a', 'X-Original-Method', 'GET', 'X-Forwarded-Uri', '/b', 'X-Forwarded-Method', 'GET'],
      'nginx',
    ],
    ['a repeated X-Original-URI', ['X-Original-URI', '/a', 'X-Original-URI', '/b', 'X-Original-Method', 'GET'], 'nginx'],
    ['no X-Original-Method', ['X-Original-URI', '/a'], 'nginx'],
    ['a method with a space', ['X-Original-URI', '/a', 'X-Original-Method', 'GET /b'], 'nginx'],
    ['a 33-character method', ['X-Original-URI', '/a', 'X-Original-Method', 'M'.repeat(33)], 'nginx'],
    ['a repeated X-Forwarded-Method', ['X-Forwarded-Uri', '/a', 'X-Forwarded-Method', 'GET', 'X-Forwarded-Method', 'POST'], 'traefik'],
    ['a host list', ['X-Forwarded-Uri', '/a', 'X-Forwarded-Method', 'GET', 'X-Forwarded-Host', 'a, b'], 'traefik'],
    [
      'two X-Forwarded-Host headers',
      ['X-Forwarded-Uri', '/a', 'X-Forwarded-Method', 'GET', 'X-Forwarded-Host', 'a', 'X-Forwarded-Host', 'b'],
      'traefik',
    ],
  ])('refuses %s', (_what, raw, dialect) => {
    const read = readOriginal(req('GET', '/', ['Host', 'h', ...(raw as string[])]));
    expect(read).toMatchObject({ ok: false, dialect });
  });

  it('never echoes a header value in its detail', () => {
    const read = readOriginal(req('GET', '/', ['X-Original-URI', '/a', 'X-Original-Method', 'SECRET VALUE']));
    expect(read.ok).toBe(false);
    expect(JSON.stringify(read)).not.toContain('SECRET');
  });
});
