import type { Snapshot } from '../config/snapshot.js';
import { formatIssue } from '../reader/issues.js';
import { loadConfig } from '../config/load.js';
import { CommandFailed, type CliIO } from './io.js';

/**
 * Loads the config for a command that never forwards; an invalid config is a failed
 * command (exit 1) with every error listed. Service tokens are not read: an operator
 * managing keys need not hold the upstream's token.
 */
export function loadOrFail(file: string, io: CliIO): Snapshot {
  const result = loadConfig(file, { env: io.env, serviceTokens: false });
  if (!result.ok) {
    throw new CommandFailed(`invalid configuration (${result.errors.length} error(s)):\n${result.errors.map(formatIssue).join('\n')}`);
  }
  return result.snapshot;
}
