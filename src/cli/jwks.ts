import { AssertionKeyRing } from '../assertion/keyRing.js';
import { loadConfig } from '../config/load.js';
import { formatIssue } from '../reader/issues.js';
import { CONFIG_OPTION, configPath, parseCommand } from './args.js';
import { CommandFailed, EXIT, type CliIO } from './io.js';

export const jwksHelp =
  'keygate jwks -c FILE [--json]   print the JWKS of the identity-assertion signing keys (what the admin port serves)';

/** The public keys an upstream verifies assertions with, as `/.well-known/jwks.json` serves them (without retired keys). */
export function runJwks(argv: string[], io: CliIO): number {
  // Always JSON; --json is accepted so scripts can pass it to every command (and get JSON errors).
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const result = loadConfig(configPath(args, io), { env: io.env, serviceTokens: false, signingKeys: true });
  if (!result.ok) {
    throw new CommandFailed(`invalid configuration (${result.errors.length} error(s)):\n${result.errors.map(formatIssue).join('\n')}`);
  }
  const ring = new AssertionKeyRing();
  ring.update(result.snapshot.services, io.now());
  io.out(JSON.stringify(ring.jwks(io.now()), null, 2));
  return EXIT.ok;
}
