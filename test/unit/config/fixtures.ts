/** Small, valid config files with known line numbers; each test changes one thing. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN = `region: eu-west-1
services:
  - name: compute
    route: { pathPrefix: /compute, stripPrefix: true }
    upstream: http://127.0.0.1:3000
    serviceToken:
      file: ./compute.token
    timeouts: { connect: 2s, response: 30s }
policy: ./policy.yaml
keys: [./keys.yaml]
`;

export const POLICY = `roles:
  reader:
    - { service: "*", method: read, path: "/**" }
  compute-admin:
    - { service: compute, path: "/v2/*/servers/**" }
users:
  joe:
    roles: [compute-admin, reader]
    expires: 2030-06-30T00:00:00Z
guardrails:
  - { service: compute, method: DELETE, path: "/v2/*/admin/**", except: [] }
`;

export const KEYS = `keys:
  - id: AAAAAAAAAAAA
    user: joe
    hash: "sha256$RRwO9N4IE4dFdcjZ-PjBV285W3M_z8Zg66qhTU_ZUFA"
    scope: restricted
    allow:
      - { service: compute, method: read, path: "/v2/**" }
    sourceIPs: [10.0.0.0/8]
    expires: 2029-01-01T00:00:00Z
`;

export const BASE: Readonly<Record<string, string>> = {
  'keygate.yaml': MAIN,
  'policy.yaml': POLICY,
  'keys.yaml': KEYS,
  'compute.token': '  service-token\n',
};

export interface Fixture {
  readonly dir: string;
  readonly mainFile: string;
  path(name: string): string;
  cleanup(): void;
}

/** Writes BASE with `files` laid over it (a `null` value leaves a file out) into a fresh temp dir. */
export function writeFixture(files: Readonly<Record<string, string | null>> = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-config-'));
  for (const [name, text] of Object.entries({ ...BASE, ...files })) {
    if (text !== null) writeFileSync(join(dir, name), text);
  }
  return {
    dir,
    mainFile: join(dir, 'keygate.yaml'),
    path: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Replaces exactly one occurrence, so a fixture edit cannot silently miss. */
export function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at === -1 || text.indexOf(from, at + 1) !== -1) throw new Error(`"${from}" must occur exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}
