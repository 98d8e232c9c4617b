import { formatIssue } from '../reader/issues.js';
import { loadConfig } from '../config/load.js';
import { CONFIG_OPTION, configPath, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';

export const checkHelp = 'keygate check -c FILE   validate keygate.yaml, the policy and keys files; report every error';

export function runCheck(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const result = loadConfig(configPath(args, io), { env: io.env });
  const warnings = result.warnings.map((w) => `warning: ${formatIssue(w)}`);
  if (args.values.json) {
    io.out(JSON.stringify({ ok: result.ok, errors: result.ok ? [] : result.errors, warnings: result.warnings }, null, 2));
    return result.ok ? EXIT.ok : EXIT.failed;
  }
  if (!result.ok) {
    io.err([...result.errors.map(formatIssue), ...warnings, `${result.errors.length} error(s)`].join('\n'));
    return EXIT.failed;
  }
  if (warnings.length) io.err(warnings.join('\n'));
  const s = result.snapshot;
  io.out(`ok: ${s.services.length} service(s), ${s.users.size} user(s), ${s.keys.size} key(s), ${s.guardrails.size} guardrail(s)`);
  return EXIT.ok;
}
