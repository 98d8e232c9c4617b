import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { send, type HttpAnswer } from '../helpers/fronts.js';

/**
 * keygate.yaml `credentials`: a service names the headers its clients put the key in
 * (as Kong's key_names or Oathkeeper's token_from do) and, only when asked, a query
 * parameter. Whatever carried the key never reaches the upstream or the log.
 */
const MON = DEMO_KEYS.monitoring.key; // joe, restricted: compute read /v2/*/servers/**
const SERVERS = '/compute/v2/p1/servers/1';

describe('per-service credential sources', () => {
  const stack = useKeygate({
    edit: (main) =>
      main.replace(
        '  - name: compute\n',
        '  - name: compute\n    credentials: { headers: [X-Auth-Token, Authorization], query: api_key }\n',
      ),
  });
  const proxy = (path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> => send(stack.kg.url('proxy'), { path, headers });
  const reason = (res: HttpAnswer): unknown => (JSON.parse(res.body) as { reason: string }).reason;
  const last = (): (typeof stack.upstream.seen)[number] => stack.upstream.seen.at(-1)!;

  it('reads the key from a header the service names, and removes that header before forwarding', async () => {
    const res = await proxy(SERVERS, { 'x-auth-token': MON });
    expect(res.status).toBe(200);
    expect(last().url).toBe('/v2/p1/servers/1');
    expect(last().headers['x-auth-token']).toBeUndefined();
    expect(last().headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
  });

  it('still reads Authorization when listed, but no longer X-API-Key; other services keep the defaults', async () => {
    expect((await proxy(SERVERS, { authorization: `Bearer ${MON}` })).status).toBe(200);
    const apiKey = await proxy(SERVERS, { 'x-api-key': MON });
    expect(apiKey.status).toBe(401);
    expect(reason(apiKey)).toBe('missing_credentials');
    const identity = await proxy('/identity/v3/users', { 'x-api-key': MON });
    expect(identity.status).toBe(403); // read as the key (a compute-only key), not missing
  });

  it('takes the key from the query parameter, forwards the query without it and never logs it', async () => {
    const res = await proxy(`${SERVERS}?a=1&api_key=${MON}&b=2`);
    expect(res.status).toBe(200);
    expect(last().url).toBe('/v2/p1/servers/1?a=1&b=2');
    expect(JSON.stringify(last().headers)).not.toContain(MON);
    expect(stack.kg.logText()).not.toContain(MON);
  });

  it('refuses a repeated parameter, or a different key in a header and the query, as malformed', async () => {
    for (const res of [
      await proxy(`${SERVERS}?api_key=${MON}&api%5Fkey=${MON}`),
      await proxy(`${SERVERS}?api_key=${MON}x`, { 'x-auth-token': MON }),
      await proxy(`${SERVERS}?api_key=`),
    ]) {
      expect(res.status).toBe(401);
      expect(reason(res)).toBe('malformed_credentials');
    }
  });

  it('the decision API reads the named headers and tells Envoy to remove them, but refuses a key in the query', async () => {
    const check = (path: string, headers: Record<string, string>): Promise<HttpAnswer> =>
      send(stack.kg.url('check'), { path, headers: { host: 'api.test', ...headers } });
    const allowed = await check(SERVERS, { 'x-auth-token': MON });
    expect(allowed.status).toBe(200);
    expect(String(allowed.headers['x-envoy-auth-headers-to-remove']).split(/,\s*/)).toContain('x-auth-token');
    const inQuery = await check(`${SERVERS}?api_key=${MON}`, {});
    expect(inQuery.status).toBe(401);
    expect(reason(inQuery)).toBe('malformed_credentials');
  });
});
