import { hashFast } from '../../../src/auth/hash.js';

/** Keys files in the layouts `keygate key` or a person might write, shared by the keys-file reader tests. */

export const id = (i: number): string => `K${String(i).padStart(11, '0')}`;

/** One key in one of several layouts `keygate key` or a person might write. */
export function key(i: number): string[] {
  const head = [`  - id: ${i % 3 === 0 ? `"${id(i)}"` : id(i)}`, '    user: joe', `    hash: "${hashFast(`secret-${i}`)}"`];
  switch (i % 6) {
    case 0:
      return [
        ...head,
        '    allow:',
        '      - { service: compute, method: read, path: "/v2/**" }',
        '    deny: []',
        '    shadow:  # a candidate scope',
        '      allow:',
        '        - { service: compute, method: GET, path: "/v2/p1/**" }',
        '    comment: plain',
      ];
    case 1:
      return [
        ...head,
        `    name: n${i}`,
        '    scope: inherit',
        '    deny:',
        '      # a comment',
        '      - service: compute',
        '        method: [DELETE, PATCH]',
        '        path: /v2/*/admin/**',
        '      - { service: "*", path: "/secret/**" }',
      ];
    case 2:
      return [
        ...head,
        '    allow:',
        '    - { service: compute, path: "/v2/{project}/servers/*" }',
        '    - { service: compute, method: write, path: /v3/** }',
        '    shadow:',
        '      deny:',
        '        - { service: compute, method: DELETE, path: "/**" }',
        '      allow:',
        '        - { service: compute, path: "/v2/{project}/servers/*" }',
        '    sourceIPs: [10.0.0.0/8, "fd00::/8"]',
        '    expires: 2030-01-01T00:00:00Z',
      ];
    case 3:
      return [
        ...head,
        '    scope: restricted',
        '    allow: []',
        '    disabled: true',
        '    notBefore: 2020-01-01T00:00:00Z',
        `    created: 2026-11-23T10:00:00Z`,
      ];
    case 4:
      // As `keygate key create --expires --not-before`, then `key rotate`, write it.
      return [
        ...head,
        `    name: n${i}`,
        '    scope: restricted',
        '    allow:',
        '      - { service: compute, method: read, path: "/v2/**" }',
        `    expires: 2030-01-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
        '    notBefore: 2026-11-24T10:00:00Z',
        '    created: 2026-11-23T10:00:00Z',
        `    rotated: 2026-12-${String(1 + (i % 28)).padStart(2, '0')}T08:30:${String(i % 60).padStart(2, '0')}Z`,
      ];
    default:
      return [
        ...head,
        '',
        '    allow:  # inline comment',
        '',
        '      - { region: eu-west-1, service: compute, method: "*", path: "/**" }',
        `    comment: "quoted: ${i}"`,
      ];
  }
}

export function keysText(count: number): string {
  const lines = ['# generated', 'keys:'];
  for (let i = 0; i < count; i++) lines.push(...key(i));
  return `${lines.join('\n')}\n`;
}

/**
 * Instants (`expires`, `notBefore`, `rotated`) and `legacy`: as `keygate key` writes them,
 * spelled otherwise but valid, and wrong.
 */
export const INSTANT_VARIANTS = {
  written: [
    'expires: 2030-01-01T00:00:00Z',
    'expires: "2030-01-01T00:00:00Z"',
    'expires: 2028-02-29T23:59:59Z',
    'expires: 2000-02-29T12:00:00Z',
    'notBefore: 2026-12-31T23:59:59Z',
    'notBefore: 1970-01-01T00:00:00Z',
    'notBefore: 1000-03-01T00:00:00Z',
    'rotated: 2026-12-04T16:13:44Z',
    'rotated: 2026-12-04T16:13:44Z\n    created: 2026-11-23T10:00:00Z',
    'created: 2026-11-23T10:00:00Z\n    rotated: 2026-12-04T16:13:44Z',
    'created: "last week"\n    rotated: 2026-12-04T16:13:44Z',
    'expires: 2030-01-01T00:00:00Z\n    notBefore: 2029-01-01T00:00:00Z',
    'legacy: true',
    'legacy: false',
    'legacy: True',
  ],
  otherValid: [
    'expires: 2030-01-01',
    'expires: 2030-01-01T00:00:00.5Z',
    'expires: 2030-01-01T00:00:00.000Z',
    'expires: 2030-01-01T01:00:00+01:00',
    'expires: 2030-01-01t00:00:00z',
    'expires: 2030-01-01 00:00:00Z',
    'expires: 2030-01-01T00:00Z',
    "expires: '2030-01-01T00:00:00Z'",
    'expires: 2030-01-01T00:00:00Z # a comment',
    'notBefore: 0999-12-31T00:00:00Z',
    'notBefore: 0050-01-01T00:00:00Z',
    'rotated: 2026-12-04',
    'rotated: "2026-12-04T16:13:44+00:00"',
  ],
  wrong: [
    'expires: 2030-02-29T00:00:00Z',
    'expires: 2100-02-29T00:00:00Z',
    'expires: 2030-04-31T00:00:00Z',
    'expires: 2030-13-01T00:00:00Z',
    'expires: 2030-00-01T00:00:00Z',
    'expires: 2030-01-00T00:00:00Z',
    'expires: 2030-01-01T24:00:00Z',
    'expires: 2030-01-01T23:60:00Z',
    'expires: 2030-01-01T23:00:60Z',
    'expires: 2030-01-01T0a:00:00Z',
    'expires: 2030-01-01X00:00:00Z',
    'expires: never',
    'expires: "tomorrow"',
    'expires: 2030',
    'expires: ~',
    'expires: true',
    'expires: ""',
    'notBefore: 2026-1-01T00:00:00Z',
    'rotated: yesterday',
    'rotated: 2026-02-30T00:00:00Z',
    'rotated: 1',
    'legacy: "true"',
    'legacy: yes',
    'legacy: 1',
  ],
};

/** One field of an entry, each either read exactly as the positioned parser reads it or left to a full parser. */
export const FIELD_VARIANTS = [
  ...INSTANT_VARIANTS.written,
  ...INSTANT_VARIANTS.otherValid,
  ...INSTANT_VARIANTS.wrong,
  'name: 0b101',
  'name: 1_000',
  'name: 0x1F',
  'name: .5',
  'name: -.5',
  'name: +1',
  'name: 1.2.3',
  'name: 10.1.2.3',
  'name: 2030-01-01',
  'name: 12:30',
  'name: .inf',
  'name: null',
  'name: ~',
  'name: true',
  'name: yes',
  'name: a #comment',
  'name: a#b',
  'name: a ]b}',
  "name: 'it''s'",
  "name: ''",
  'name: ""',
  'name: "a \\t b"',
  'name: "a # b"  # c',
  'name: x: y',
  'name: x:',
  'name: -x',
  'name: &a x',
  'name: !!str 1',
  'name: |\n      text',
  'name: multi\n      line',
  'name:\tx',
  'name: [a]',
  'name: {a: b}',
  'comment: über ✓',
  'allow: [{ service: compute, path: "/x" }, { service: compute, method: [GET, HEAD], path: /y }]',
  'allow: [ ]',
  'allow:\n      - { service: compute, path: "/x", }',
  'allow:\n      - {service: compute, path: "/x"}',
  'allow:\n      - { service: compute, path: "/x" }   # c',
  'allow:\n      -   { service: compute, path: "/x" }',
  'allow:\n      - service: compute\n        path: /x',
  'allow:\n      -\n        service: compute\n        path: /x',
  'allow:\n      - { service: compute, path: /x, region: [eu-west-1, "us-east-1"] }',
  'allow:\n      - { service: compute, path: /x }\n      - { service: compute, path: /x }',
  'sourceIPs:\n      - 10.0.0.0/8\n      - "::1/128"',
  'clientCert:\n      san: "DNS:client.example"',
  'clientCert: { subject: "CN=a" }',
  'disabled: True',
  'disabled: "true"',
  '__proto__: x',
];
