import { describe, expect, it } from 'vitest';
import { DEMO_KEYS, DEMO_TOKENS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { httpSend, type HttpResult } from '../helpers/http.js';
import { replaceServices } from '../helpers/mainFile.js';
import type { SeenRequest } from '../helpers/upstream.js';

/**
 * Routing (host, whole-segment pathPrefix, stripPrefix, catch-all, upstream base path)
 * and every credential form, each checked at the upstream: what it got and what it did not.
 */
const services = (origin: string): string => `
  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: ${origin}
    serviceToken: { file: ./secrets/compute.token }
  - name: identity
    route: { pathPrefix: /identity, stripPrefix: true }
    upstream: ${origin}/identity
    serviceToken: { header: X-Service-Token, scheme: '', file: ./secrets/identity.token }
  - name: hosted
    route: { host: api.example.com }
    upstream: ${origin}/base/
  - name: kept
    route: { pathPrefix: /keep/me }
    upstream: ${origin}
  - name: fallback
    upstream: ${origin}/fb
`;

const deploy = { authorization: `Bearer ${DEMO_KEYS.deploy.key}` };

describe('200: routed and forwarded', () => {
  const fx = useKeygate({ edit: (main, origin) => replaceServices(main, services(origin)) });

  /** node:http, because fetch will not send a Host header of our choosing. */
  async function send(
    path: string,
    headers: Record<string, string>,
    method = 'GET',
  ): Promise<{ res: HttpResult; seen: SeenRequest | undefined }> {
    const before = fx.upstream.seen.length;
    const res = await httpSend(`${fx.kg.url()}${path}`, { method, headers });
    return { res, seen: fx.upstream.seen.length > before ? fx.upstream.seen.at(-1) : undefined };
  }

  const routes: { desc: string; path: string; host?: string; upstreamUrl: string; service: string }[] = [
    {
      desc: 'prefix stripped, query kept',
      path: '/compute/v2/p1/servers/42?q=1&r=%2F',
      upstreamUrl: '/v2/p1/servers/42?q=1&r=%2F',
      service: 'compute',
    },
    { desc: 'the prefix alone becomes /', path: '/compute', upstreamUrl: '/', service: 'compute' },
    { desc: 'prefix with a trailing slash', path: '/compute/', upstreamUrl: '/', service: 'compute' },
    {
      desc: 'prefix matches whole segments only: /computers is not /compute',
      path: '/computers/v2',
      upstreamUrl: '/fb/computers/v2',
      service: 'fallback',
    },
    { desc: 'upstream base path is prepended', path: '/identity/v3/users', upstreamUrl: '/identity/v3/users', service: 'identity' },
    {
      desc: 'host route, base path with a trailing slash',
      path: '/x/y',
      host: 'api.example.com',
      upstreamUrl: '/base/x/y',
      service: 'hosted',
    },
    { desc: 'host route ignores case and port', path: '/x', host: 'API.Example.COM:8443', upstreamUrl: '/base/x', service: 'hosted' },
    {
      desc: 'an earlier prefix route wins over a later host route',
      path: '/compute/v2',
      host: 'api.example.com',
      upstreamUrl: '/v2',
      service: 'compute',
    },
    { desc: 'prefix not stripped when stripPrefix is off', path: '/keep/me/x', upstreamUrl: '/keep/me/x', service: 'kept' },
    { desc: 'multi-segment prefix, whole segments only', path: '/keep/meme', upstreamUrl: '/fb/keep/meme', service: 'fallback' },
    { desc: 'catch-all takes everything else', path: '/anything/else?x', upstreamUrl: '/fb/anything/else?x', service: 'fallback' },
  ];

  it.each(routes)('routes: $desc', async ({ path, host, upstreamUrl, service }) => {
    const { res, seen } = await send(path, { ...deploy, ...(host ? { host } : {}) });
    expect(res.status).toBe(200);
    expect(seen?.url).toBe(upstreamUrl);
    expect(seen?.method).toBe('GET');
    if (service === 'identity') {
      expect(seen?.headers['x-service-token']).toBe(DEMO_TOKENS.identity);
      expect(seen?.headers.authorization).toBeUndefined();
    } else if (service === 'compute') {
      expect(seen?.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    } else {
      // A service without serviceToken: the client's Authorization is still removed.
      expect(seen?.headers.authorization).toBeUndefined();
    }
    expect(JSON.stringify(seen?.rawHeaders)).not.toContain(DEMO_KEYS.deploy.key);
  });

  const basic = (user: string, key: string): string => `Basic ${Buffer.from(`${user}:${key}`, 'utf8').toString('base64')}`;
  const credentials: { desc: string; headers: Record<string, string> }[] = [
    { desc: 'Authorization: Bearer', headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}` } },
    { desc: 'Authorization: bearer (scheme is case-insensitive)', headers: { authorization: `bearer ${DEMO_KEYS.monitoring.key}` } },
    { desc: 'X-API-Key', headers: { 'x-api-key': DEMO_KEYS.monitoring.key } },
    {
      desc: 'Bearer and X-API-Key carrying the same key',
      headers: { authorization: `Bearer ${DEMO_KEYS.monitoring.key}`, 'x-api-key': DEMO_KEYS.monitoring.key },
    },
    { desc: 'Basic with a user name', headers: { authorization: basic('grafana', DEMO_KEYS.monitoring.key) } },
    { desc: 'Basic with an empty user name', headers: { authorization: basic('', DEMO_KEYS.monitoring.key) } },
    { desc: 'Basic with a non-ASCII user name', headers: { authorization: basic('jörg', DEMO_KEYS.monitoring.key) } },
  ];

  it.each(credentials)('accepts the key as $desc and never forwards it', async ({ headers }) => {
    const { res, seen } = await send('/compute/v2/p1/servers/42', headers);
    expect(res.status).toBe(200);
    expect(seen?.headers.authorization).toBe(`Bearer ${DEMO_TOKENS.compute}`);
    expect(seen?.headers['x-api-key']).toBeUndefined();
    expect(seen?.headers['x-keygate-user']).toBe('joe');
    expect(seen?.headers['x-keygate-key-id']).toBe(DEMO_KEYS.monitoring.id);
    expect(seen?.headers['x-keygate-key-name']).toBe('monitoring');
    const everything = JSON.stringify(seen?.rawHeaders);
    expect(everything).not.toContain(DEMO_KEYS.monitoring.key);
    expect(everything).not.toContain(headers.authorization?.split(' ')[1] ?? DEMO_KEYS.monitoring.key);
  });

  it('forwards the method, the body and the upstream status and headers unchanged', async () => {
    const body = JSON.stringify({ name: 'web-1' });
    const res = await fetch(`${fx.kg.url()}/compute/v2/p1/servers`, {
      method: 'POST',
      headers: { ...deploy, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as SeenRequest;
    expect(seen.method).toBe('POST');
    expect(seen.bodyBytes).toBe(Buffer.byteLength(body));
    expect(seen.headers['content-type']).toBe('application/json');
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('HEAD is forwarded as HEAD', async () => {
    const { res, seen } = await send('/compute/v2/p1/servers/1', deploy, 'HEAD');
    expect(res.status).toBe(200);
    expect(seen?.method).toBe('HEAD');
  });
});
