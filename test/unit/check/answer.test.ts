import { describe, expect, it } from 'vitest';
import { allowHeaders, ENVOY_REMOVE_HEADER } from '../../../src/check/answer.js';
import { DEFAULT_REQUEST_RULES } from '../../../src/config/requestRules.js';
import type { Allowed } from '../../../src/proxy/opening.js';

/** Listed on every Envoy answer: headers keygate owns that Envoy may not have shown it. */
const ALWAYS = 'x-original-url, x-rewrite-url, x-original-uri, x-forwarded-prefix, x-real-ip, forwarded, x-forwarded-host';

/** An Allowed outcome with only what allowHeaders reads. */
function allowed(token: { header: string; scheme: string; value: string; none?: boolean }): Allowed {
  return {
    allow: true,
    key: { id: 'KEYID', name: 'ci', user: 'joe' },
    destination: {
      service: {
        requests: DEFAULT_REQUEST_RULES,
        serviceToken: {
          header: token.header,
          scheme: token.scheme,
          value: token.value,
          source: token.none ? { kind: 'none' } : { kind: 'env', name: 'T' },
        },
      },
    },
  } as unknown as Allowed;
}

const BEARER = allowed({ header: 'authorization', scheme: 'Bearer', value: 'tok' });
const RAW = allowed({ header: 'x-service-token', scheme: '', value: 'tok' });

describe('allowHeaders', () => {
  it("carries the token in the service's header and scheme, and who called", () => {
    expect(allowHeaders(BEARER, 'nginx', [], 'rid')).toEqual({
      authorization: 'Bearer tok',
      'x-keygate-user': 'joe',
      'x-keygate-key-id': 'KEYID',
      'x-keygate-key-name': 'ci',
      'x-request-id': 'rid',
      'cache-control': 'no-store',
      'content-length': '0',
    });
    expect(allowHeaders(RAW, 'traefik', [], 'rid')['x-service-token']).toBe('tok');
  });

  it('sets no token header for a service without one', () => {
    const headers = allowHeaders(allowed({ header: 'authorization', scheme: 'Bearer', value: '', none: true }), 'envoy', [], 'rid');
    expect(headers.authorization).toBeUndefined();
    expect(headers[ENVOY_REMOVE_HEADER]).toBe(`authorization, x-api-key, ${ALWAYS}`);
  });

  it.each([
    {
      what: 'the credential header the token does not overwrite',
      outcome: BEARER,
      raw: ['Authorization', 'Bearer k'],
      remove: 'x-api-key',
    },
    {
      what: 'Authorization when the token goes elsewhere',
      outcome: RAW,
      raw: ['Authorization', 'Bearer k'],
      remove: 'authorization, x-api-key',
    },
    {
      what: 'spoofed spellings, never a header keygate sets',
      outcome: RAW,
      raw: ['X-Keygate-User', 'm', 'X_Keygate_User', 'm', 'X_Service_Token', 'f', 'X-Keygate-Admin', '1'],
      remove: 'authorization, x-api-key, x_keygate_user, x_service_token, x-keygate-admin',
    },
  ])('Envoy: removes $what', ({ outcome, raw, remove }) => {
    expect(allowHeaders(outcome, 'envoy', raw, 'rid')[ENVOY_REMOVE_HEADER]).toBe(`${remove}, ${ALWAYS}`);
  });

  it('tells only Envoy what to remove', () => {
    expect(allowHeaders(BEARER, 'nginx', ['X-Api-Key', 'k'], 'rid')[ENVOY_REMOVE_HEADER]).toBeUndefined();
    expect(allowHeaders(BEARER, 'traefik', ['X-Api-Key', 'k'], 'rid')[ENVOY_REMOVE_HEADER]).toBeUndefined();
  });
});
