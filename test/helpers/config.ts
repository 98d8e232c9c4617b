import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

/** The example config's demo keys (their secrets are public: README and config/keys.yaml). */
export const DEMO_KEYS = {
  /** joe, restricted: compute read /v2/*\/servers/** */
  monitoring: { id: 'DT7nOCBZHjkw', key: 'kg_DT7nOCBZHjkw_39obQwlTUVXh04TTl8BRKNwUqp2NUFK1YRt57xe2lcr0kLJdL' },
  /** joe, inherit, deny compute DELETE /** */
  deploy: { id: 'ZzPjRE9uyI9s', key: 'kg_ZzPjRE9uyI9s_jXZNwqV4BSf1h8GNbhUNLv3oiUBr1ZiMIe85CQwr83k195ZU6' },
  /** alice, inherit, sourceIPs 127.0.0.0/8 and ::1 */
  aliceAdmin: { id: 'J5fIC0OTO4Co', key: 'kg_J5fIC0OTO4Co_zawNopEmIiGatik1sHtzWlt5CkLhpD6M9RLlDGFWbJR4WwxNL' },
} as const;

export const DEMO_TOKENS = { compute: 'demo-compute-service-token', identity: 'demo-identity-service-token' } as const;

const FAILED_AUTH_OFF = 'rateLimiting: { failedAuth: off }';

/** A tempConfig edit: the `rateLimiting` block `yaml` (indented two spaces) instead of the tests' default. */
export function withRateLimiting(main: string, yaml: string): string {
  if (!main.includes(FAILED_AUTH_OFF)) throw new Error('tempConfig no longer sets rateLimiting');
  return main.replace(FAILED_AUTH_OFF, `rateLimiting:\n${yaml.replace(/\n$/, '')}`);
}

export interface TempConfig {
  readonly dir: string;
  readonly mainFile: string;
  path(name: string): string;
  read(name: string): string;
  /** Replaces a file atomically (temp + rename), as an editor or `keygate key` would. */
  write(name: string, text: string): void;
  cleanup(): void;
}

/**
 * A copy of config/ in a temp dir, with every upstream pointed at `upstream` (an origin
 * like http://127.0.0.1:1234) and listeners on port 0.
 */
export function tempConfig(upstream: string, edit?: (main: string) => string): TempConfig {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-test-'));
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  const mainFile = join(dir, 'keygate.yaml');
  let main = readFileSync(mainFile, 'utf8')
    .replaceAll('http://127.0.0.1:3000', upstream)
    .replace(/proxy: 127\.0\.0\.1:8080/, 'proxy: 127.0.0.1:0')
    .replace(/admin: 127\.0\.0\.1:9090/, 'admin: 127.0.0.1:0')
    .replace(/(check|address): 127\.0\.0\.1:9191/, '$1: 127.0.0.1:0')
    .replace(/grpc: 127\.0\.0\.1:9192/, 'grpc: 127.0.0.1:0');
  // Tests poll with keys a reload has not loaded yet, and send wrong keys on purpose: the
  // failed-authentication limit per address (on by default; 429-rate-limits.test.ts tests
  // it) would turn those 401s into 429s. `withFailedAuthLimit` turns it back on.
  main = `${main.replace(/\n?$/, '\n')}${FAILED_AUTH_OFF}\n`;
  if (edit) main = edit(main);
  writeFileSync(mainFile, main);
  const cfg: TempConfig = {
    dir,
    mainFile,
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name), 'utf8'),
    write: (name, text) => {
      const tmp = join(dir, `.${name.replaceAll('/', '_')}.tmp-${process.pid}`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(dir, name));
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return cfg;
}
