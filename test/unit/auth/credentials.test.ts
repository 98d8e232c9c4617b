import { describe, expect, it } from 'vitest';
import { type Credential, type CredentialHeaders, extractCredential } from '../../../src/auth/credentials.js';
import { queryCredential } from '../../../src/proxy/credentialQuery.js';

const KEY = 'kg_7Hq2pXw9LmZ4_secret';
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
const present = (value: string, header: 'authorization' | 'x-api-key' = 'authorization'): Credential => ({
  kind: 'present',
  value,
  source: header,
});
const malformed = (header: 'authorization' | 'x-api-key' = 'authorization'): Credential => ({
  kind: 'malformed',
  source: header,
});

describe('extractCredential', () => {
  it.each<[string, CredentialHeaders, Credential]>([
    ['no headers', {}, { kind: 'none' }],
    ['unrelated headers only', { host: 'x', cookie: 'a=b' }, { kind: 'none' }],
    ['Bearer', { authorization: `Bearer ${KEY}` }, present(KEY)],
    ['bearer, lower case', { authorization: `bearer ${KEY}` }, present(KEY)],
    ['BEARER, upper case', { authorization: `BEARER ${KEY}` }, present(KEY)],
    ['Bearer with several spaces', { authorization: `Bearer    ${KEY}` }, present(KEY)],
    ['Bearer with surrounding whitespace', { authorization: `  Bearer ${KEY}  ` }, present(KEY)],
    ['X-API-Key', { 'x-api-key': KEY }, present(KEY, 'x-api-key')],
    ['X-API-Key trimmed', { 'x-api-key': `\t${KEY} ` }, present(KEY, 'x-api-key')],
    ['Basic with user', { authorization: basic(`alice:${KEY}`) }, present(KEY)],
    ['Basic with empty user', { authorization: basic(`:${KEY}`) }, present(KEY)],
    ['Basic password containing ":"', { authorization: basic('u:a:b') }, present('a:b')],
    ['basic scheme lower case', { authorization: basic(`u:${KEY}`).replace('Basic', 'basic') }, present(KEY)],
    ['Basic without padding chars needed', { authorization: basic('u:abc') }, present('abc')],
    ['single-element array (headersDistinct)', { 'x-api-key': [KEY] }, present(KEY, 'x-api-key')],
    ['empty array counts as absent', { 'x-api-key': [] }, { kind: 'none' }],
    ['same key in both headers', { authorization: `Bearer ${KEY}`, 'x-api-key': KEY }, present(KEY)],

    ['Basic without colon', { authorization: basic(KEY) }, malformed()],
    ['Basic with empty password', { authorization: basic('alice:') }, malformed()],
    ['Basic with invalid base64', { authorization: 'Basic !!!not-base64' }, malformed()],
    ['Basic with base64url alphabet', { authorization: 'Basic dTpr-_8=' }, malformed()],
    ['Basic with missing padding', { authorization: 'Basic dTphYmN' }, malformed()],
    ['Basic with non-canonical trailing bits', { authorization: 'Basic dTphYmN=' }, malformed()],
    ['Basic with invalid UTF-8', { authorization: `Basic ${Buffer.from([0x75, 0x3a, 0xff]).toString('base64')}` }, malformed()],
    ['Basic with no token', { authorization: 'Basic' }, malformed()],
    ['Bearer with no token', { authorization: 'Bearer ' }, malformed()],
    ['Bearer without a space', { authorization: `Bearer${KEY}` }, malformed()],
    ['other scheme', { authorization: `Token ${KEY}` }, malformed()],
    ['Digest scheme', { authorization: 'Digest username="x"' }, malformed()],
    ['bare key in Authorization', { authorization: KEY }, malformed()],
    ['empty Authorization', { authorization: '' }, malformed()],
    ['whitespace-only Authorization', { authorization: '   ' }, malformed()],
    ['empty X-API-Key', { 'x-api-key': '' }, malformed('x-api-key')],
    ['repeated X-API-Key', { 'x-api-key': [KEY, KEY] }, malformed('x-api-key')],
    ['repeated Authorization', { authorization: [`Bearer ${KEY}`, `Bearer ${KEY}`] }, malformed()],
    ['different keys in both headers', { authorization: `Bearer ${KEY}`, 'x-api-key': `${KEY}x` }, malformed()],
    ['malformed Authorization beside a good X-API-Key', { authorization: 'Token x', 'x-api-key': KEY }, malformed()],
    ['good Authorization beside an empty X-API-Key', { authorization: `Bearer ${KEY}`, 'x-api-key': '' }, malformed('x-api-key')],
    ['X-API-Key over 4096 chars', { 'x-api-key': 'k'.repeat(4097) }, malformed('x-api-key')],
    ['Authorization over 4096 chars', { authorization: `Bearer ${'k'.repeat(4090)}` }, malformed()],
  ])('%s', (_name, headers, expected) => {
    expect(extractCredential(headers)).toEqual(expected);
  });

  it('accepts a value of exactly 4096 chars', () => {
    const value = 'k'.repeat(4096);
    expect(extractCredential({ 'x-api-key': value })).toEqual(present(value, 'x-api-key'));
  });

  it('reads only the headers a service names, in order: Authorization as Bearer/Basic, any other as the bare key', () => {
    const names = ['x-auth-token', 'authorization'];
    expect(extractCredential({ 'x-auth-token': ` ${KEY} ` }, names)).toEqual({ kind: 'present', value: KEY, source: 'x-auth-token' });
    expect(extractCredential({ 'x-api-key': KEY }, names)).toEqual({ kind: 'none' });
    expect(extractCredential({ authorization: `Bearer ${KEY}` }, names)).toEqual(present(KEY));
    expect(extractCredential({ 'x-auth-token': `Bearer ${KEY}` }, names)).toEqual({
      kind: 'present',
      value: `Bearer ${KEY}`,
      source: 'x-auth-token',
    });
    expect(extractCredential({ 'x-auth-token': KEY, authorization: `Bearer ${KEY}x` }, names)).toEqual({
      kind: 'malformed',
      source: 'x-auth-token',
    });
    expect(extractCredential({ 'x-auth-token': [KEY, KEY] }, names)).toEqual({ kind: 'malformed', source: 'x-auth-token' });
  });
});

describe('queryCredential', () => {
  it.each<[string, string, ReturnType<typeof queryCredential>]>([
    ['no query', '', undefined],
    ['other parameters only', '?a=1&b=2', undefined],
    ['the key alone', `?api_key=${KEY}`, { credential: { kind: 'present', value: KEY, source: '?api_key' }, rest: '' }],
    [
      'the key among others, order kept',
      `?a=1&api_key=${KEY}&b=2`,
      { credential: { kind: 'present', value: KEY, source: '?api_key' }, rest: '?a=1&b=2' },
    ],
    ['percent-encoded value', '?api_key=a%2Bb%3D', { credential: { kind: 'present', value: 'a+b=', source: '?api_key' }, rest: '' }],
    [
      'an encoded name counts (PHP decodes it)',
      `?api%5Fkey=${KEY}`,
      { credential: { kind: 'present', value: KEY, source: '?api_key' }, rest: '' },
    ],
    [
      'a dotted name counts (PHP reads . as _)',
      `?api.key=${KEY}&x=1`,
      { credential: { kind: 'present', value: KEY, source: '?api_key' }, rest: '?x=1' },
    ],
    [
      'twice is malformed, and both are removed',
      `?api_key=${KEY}&api_key[]=${KEY}&x=1`,
      { credential: { kind: 'malformed', source: '?api_key' }, rest: '?x=1' },
    ],
    ['empty value is malformed', '?api_key=&x=1', { credential: { kind: 'malformed', source: '?api_key' }, rest: '?x=1' }],
    ['a name that only starts the same is not it', `?api_key2=${KEY}`, undefined],
  ])('%s', (_name, query, expected) => {
    expect(queryCredential('api_key', query)).toEqual(expected);
  });
});
