import { hashFast } from '../../../src/auth/hash.js';

/** Keys files in the layouts `keygate key` or a person might write, shared by the keys-file reader tests. */

export const id = (i: number): string => `K${String(i).padStart(11, '0')}`;

/** One key in one of several layouts `keygate key` or a person might write. */
export function key(i: number): string[] {
  const head = [`  - id: ${i % 3 === 0 ? `"${id(i)}"` : id(i)}`, '    user: joe', `    hash: "${hashFast(`secret-${i}`)}"`];
  switch (i % 5) {
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

/** One field of an entry, each either read exactly as the positioned parser reads it or left to a full parser. */
export const FIELD_VARIANTS = [
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
