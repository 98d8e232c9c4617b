import { describe, expect, it } from 'vitest';
import { parseDuration, parseListenAddress, parseSize, parseTimestamp } from '../../../src/reader/values.js';

const isError = (v: unknown): boolean => typeof v === 'object' && v !== null && 'error' in v;

describe('parseDuration', () => {
  it.each([
    { text: '500ms', ms: 500 },
    { text: '2s', ms: 2000 },
    { text: '1.5m', ms: 90_000 },
    { text: '12h', ms: 43_200_000 },
    { text: '30d', ms: 2_592_000_000 },
    { text: '0s', ms: 0 },
  ])('$text = $ms ms', ({ text, ms }) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['2', '2 seconds', 's', '-1s', '1w', '', '1.s'])('rejects %j', (text) => {
    expect(isError(parseDuration(text))).toBe(true);
  });
});

describe('parseSize', () => {
  it.each([
    { text: '16KiB', bytes: 16_384 },
    { text: '10MiB', bytes: 10_485_760 },
    { text: '1048576', bytes: 1_048_576 },
    { text: '1kb', bytes: 1000 },
  ])('$text = $bytes bytes', ({ text, bytes }) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['lots', '1.5MiB', '-1', '10 parsecs'])('rejects %j', (text) => {
    expect(isError(parseSize(text))).toBe(true);
  });
});

describe('parseTimestamp', () => {
  it.each([
    { text: '2027-01-01T00:00:00Z', ms: Date.UTC(2027, 0, 1) },
    { text: '2027-01-01', ms: Date.UTC(2027, 0, 1) },
    { text: '2027-01-01T02:00:00+02:00', ms: Date.UTC(2027, 0, 1) },
    { text: '2028-02-29T12:30:00.250Z', ms: Date.UTC(2028, 1, 29, 12, 30, 0, 250) },
  ])('$text', ({ text, ms }) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it.each([
    { desc: 'February 30 (Date.parse would roll it over)', text: '2027-02-30' },
    { desc: 'February 29 of a common year', text: '2027-02-29T00:00:00Z' },
    { desc: 'April 31', text: '2027-04-31' },
    { desc: 'month 13', text: '2027-13-01' },
    { desc: 'hour 24', text: '2027-01-01T24:00:00Z' },
    { desc: 'hour 25', text: '2027-01-01T25:00:00Z' },
    { desc: 'a time without a zone', text: '2027-01-01T00:00:00' },
    { desc: 'a US date', text: '01/02/2027' },
    { desc: 'words', text: 'tomorrow' },
  ])('rejects $desc', ({ text }) => {
    expect(isError(parseTimestamp(text))).toBe(true);
  });
});

describe('parseListenAddress', () => {
  it.each([
    { text: '127.0.0.1:8080', expected: { host: '127.0.0.1', port: 8080 } },
    { text: ':9090', expected: { host: '0.0.0.0', port: 9090 } },
    { text: '[::1]:0', expected: { host: '::1', port: 0 } },
  ])('$text', ({ text, expected }) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['localhost', '127.0.0.1:70000', '127.0.0.1:http'])('rejects %j', (text) => {
    expect(isError(parseListenAddress(text))).toBe(true);
  });
});
