import { describe, expect, it } from 'vitest';
import { formatKey, generateKeyId, generateSecret } from '../../../src/auth/keyFormat.js';
import { createLogger, pathWithoutQuery, serializeError, type Logger } from '../../../src/observability/logger.js';
import { redactPaths, secretCensor } from '../../../src/observability/redaction.js';
import { scrubSecrets } from '../../../src/observability/scrub.js';

const KEY = formatKey(generateKeyId(), generateSecret());
const LEGACY = 'legacy-Secret-0123456789abcdef';
const SERVICE_TOKEN = 'svc-token-9f8e7d6c5b4a';
const COOKIE = 'session=cookie-value-123';
const SECRETS = [KEY, KEY.slice(3, 40), LEGACY, SERVICE_TOKEN, 'cookie-value-123', 'qs-secret-value'];

function memoryLogger(options: { redactHeaders?: string[] } = {}): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void chunks.push(s) }, ...options });
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function expectNoSecrets(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

const inboundHeaders = {
  authorization: `Bearer ${KEY}`,
  'x-api-key': LEGACY,
  cookie: COOKIE,
  'proxy-authorization': `Basic ${Buffer.from(`u:${LEGACY}`).toString('base64')}`,
  host: 'api.example.com',
};

describe('createLogger redaction', () => {
  it.each([
    { desc: 'headers at the top level', obj: { headers: inboundHeaders } },
    {
      desc: 'upstream request headers, canonical case',
      obj: { upstream: { headers: { Authorization: `Bearer ${SERVICE_TOKEN}`, Cookie: COOKIE } } },
    },
    { desc: 'headers one object down', obj: { forwarded: { headers: { 'X-API-Key': KEY, 'set-cookie': COOKIE } } } },
    { desc: 'a service token field', obj: { serviceToken: SERVICE_TOKEN } },
    { desc: 'a service config with its token', obj: { service: { name: 'compute', serviceToken: SERVICE_TOKEN } } },
    { desc: 'token, key and secret fields', obj: { token: SERVICE_TOKEN, key: KEY, credential: { secret: LEGACY } } },
    { desc: 'a nested key field', obj: { presented: { key: KEY, password: LEGACY } } },
    {
      desc: 'secrets deep down, in any letter case',
      obj: { a: { b: [{ c: { AUTHORIZATION: `Bearer ${SERVICE_TOKEN}`, ServiceToken: SERVICE_TOKEN } }] } },
    },
    {
      desc: 'raw headers as a name/value list',
      obj: { upstreamHeaders: ['host', 'x', 'Authorization', `Bearer ${SERVICE_TOKEN}`, 'x-api-key', LEGACY] },
    },
    {
      desc: 'headers of a non-plain object at a known place',
      obj: { headers: Object.assign(new (class Headers {})(), { authorization: `Bearer ${SERVICE_TOKEN}` }) },
    },
  ])('redacts $desc', ({ obj }) => {
    const { logger, text, lines } = memoryLogger();
    logger.info(obj, 'event');
    expectNoSecrets(text());
    expect(text()).toContain('[REDACTED]');
    expect(lines()).toHaveLength(1);
  });

  it('serializes a request as method, path without query and peer, never headers', () => {
    const { logger, text, lines } = memoryLogger();
    const req = {
      method: 'GET',
      url: '/v2/servers?api_key=qs-secret-value',
      headers: inboundHeaders,
      socket: { remoteAddress: '10.0.0.7' },
    };
    logger.info({ req }, 'request');
    expectNoSecrets(text());
    expect(lines()[0].req).toEqual({ method: 'GET', path: '/v2/servers', remoteAddress: '10.0.0.7' });
  });

  it('keeps the message, code and stack of an error but never the request it carries', () => {
    const { logger, text, lines } = memoryLogger();
    const err = Object.assign(new Error(`upstream said no to Bearer ${SERVICE_TOKEN} for ${KEY}`), {
      code: 'ECONNRESET',
      syscall: 'read',
      config: { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } },
      headers: inboundHeaders,
      request: { headers: inboundHeaders },
      cause: Object.assign(new Error('inner'), { options: { headers: { 'x-api-key': KEY } } }),
    });
    logger.error({ err, event: 'upstream_failed' }, 'upstream failed');
    logger.error(err);
    expectNoSecrets(text());
    for (const line of lines()) {
      const logged = line.err as Record<string, unknown>;
      expect(logged.code).toBe('ECONNRESET');
      expect(logged.syscall).toBe('read');
      expect(logged.message).toContain('upstream said no to Bearer [REDACTED]');
      expect(logged.stack).toEqual(expect.any(String));
      expect(Object.keys(logged).sort()).toEqual(['cause', 'code', 'message', 'stack', 'syscall', 'type']);
      expect(logged.cause).toMatchObject({ type: 'Error', message: 'inner' });
    }
  });

  it('scrubs key strings from any field and from messages, interpolated or not', () => {
    const { logger, text, lines } = memoryLogger();
    logger.warn({ detail: `client sent ${KEY} twice`, list: [KEY] }, `presented ${KEY}`);
    logger.warn('saw %s with Bearer %s', KEY, SERVICE_TOKEN);
    expectNoSecrets(text());
    expect(lines()[0]).toMatchObject({
      detail: 'client sent kg_[REDACTED] twice',
      list: ['kg_[REDACTED]'],
      msg: 'presented kg_[REDACTED]',
    });
  });

  it('serializes errors and HTTP messages nested anywhere instead of dumping them', () => {
    const { logger, text, lines } = memoryLogger();
    const leaky = Object.assign(new Error('connect ECONNREFUSED'), {
      code: 'ECONNREFUSED',
      options: { headers: { 'x-service-token': SERVICE_TOKEN } },
      token: SERVICE_TOKEN,
    });
    class FakeIncoming {
      method = 'GET';
      url = '/x?k=qs-secret-value';
      headers = { 'x-api-key': KEY, 'x-custom': SERVICE_TOKEN };
    }
    logger.warn(
      {
        cause: leaky,
        attempts: [{ err: leaky }],
        ctx: { request: new FakeIncoming() },
        res: { statusCode: 502, headers: { 'set-cookie': COOKIE } },
      },
      'x',
    );
    expectNoSecrets(text());
    expect(lines()[0]).toMatchObject({
      cause: { type: 'Error', code: 'ECONNREFUSED' },
      attempts: [{ err: { code: 'ECONNREFUSED' } }],
      ctx: { request: { method: 'GET', path: '/x' } },
      res: { statusCode: 502 },
    });
  });

  it('redacts the configured service-token header of a service', () => {
    const { logger, text } = memoryLogger({ redactHeaders: ['X-Service-Token'] });
    logger.info({ headers: { 'x-service-token': SERVICE_TOKEN }, upstream: { headers: { 'X-Service-Token': SERVICE_TOKEN } } }, 'x');
    expectNoSecrets(text());
  });

  it('refuses a redaction header that is not a header name', () => {
    expect(() => redactPaths(['a"]; evil'])).toThrow(TypeError);
  });

  it('writes JSON lines with a level label and an ISO time, honouring the level', () => {
    const chunks: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (s: string) => void chunks.push(s) } });
    logger.info('hidden');
    logger.warn({ event: 'x' }, 'shown');
    expect(chunks).toHaveLength(1);
    const line = JSON.parse(chunks[0]) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'warn', msg: 'shown', event: 'x' });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });
});

describe('helpers', () => {
  it('leaves a clean object untouched (no copy on the access-line path)', () => {
    const censor = secretCensor();
    const line = { request_id: 'r', key_id: 'k', key_name: 'n', nested: { a: [1, 'b'] } };
    expect(censor(line)).toBe(line);
  });

  it('copies instead of mutating what the caller logged', () => {
    const headers = { authorization: 'Bearer x', host: 'h' };
    const out = secretCensor(['X-Service-Token'])({ h: headers, t: { 'x-service-token': 'y' } });
    expect(out).toEqual({ h: { authorization: '[REDACTED]', host: 'h' }, t: { 'x-service-token': '[REDACTED]' } });
    expect(headers.authorization).toBe('Bearer x');
  });

  it('scrubs key strings and scheme credentials from free text', () => {
    expect(scrubSecrets(`bad key ${KEY} seen`)).toBe('bad key kg_[REDACTED] seen');
    expect(scrubSecrets('Authorization: Bearer abc.def-ghi, next')).toBe('Authorization: Bearer [REDACTED], next');
    expect(scrubSecrets('basic dTpw')).toBe('basic [REDACTED]');
    expect(scrubSecrets('nothing to see')).toBe('nothing to see');
  });

  it('serializes non-errors and AggregateErrors safely', () => {
    expect(serializeError(`thrown ${KEY}`)).toEqual({ type: 'string', message: 'thrown kg_[REDACTED]' });
    const agg = serializeError(new AggregateError([new Error('a'), new Error('b')], 'all failed'));
    expect(agg.errors?.map((e) => e.message)).toEqual(['a', 'b']);
  });

  it('cuts query and fragment from a path and bounds its length', () => {
    expect(pathWithoutQuery('/a/b?x=1#f')).toBe('/a/b');
    expect(pathWithoutQuery('/a#f?x')).toBe('/a');
    expect(pathWithoutQuery('/a')).toBe('/a');
    expect(pathWithoutQuery(`/${'x'.repeat(5000)}`)).toHaveLength(2049);
  });
});
