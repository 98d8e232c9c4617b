import { formatIssue } from '../reader/issues.js';
import { loadConfig } from '../config/load.js';
import { rotationWarnings } from '../config/rotation.js';
import { CONFIG_OPTION, configPath, flag, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';

export const checkHelp =
  'keygate check -c FILE [--offline] [--strict] [--json]   validate keygate.yaml, the policy and keys files; report every error\n' +
  '    --offline: do not read service-token files or variables (CI without the secrets; their references are still checked)\n' +
  '    --strict:  warnings fail the check too (exit 1)';

export function runCheck(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    json: { type: 'boolean' },
    offline: { type: 'boolean' },
    strict: { type: 'boolean' },
  });
  const strict = flag(args, 'strict');
  const result = loadConfig(configPath(args, io), { env: io.env, ...(flag(args, 'offline') ? { serviceTokens: false } : {}) });
  // A serving keygate ignores an invalid shadow candidate; a check of it fails, so CI catches it before it is deployed.
  const shadowErrors = (result.ok && result.snapshot.shadowErrors) || [];
  const issues = result.ok ? [...result.warnings, ...rotationWarnings(result.snapshot, io.now())] : result.warnings;
  const passed = result.ok && shadowErrors.length === 0 && !(strict && issues.length > 0);
  const warnings = issues.map((w) => `warning: ${formatIssue(w)}`);
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ ok: passed, errors: result.ok ? [] : result.errors, warnings: issues, shadowErrors }, null, 2));
    return passed ? EXIT.ok : EXIT.failed;
  }
  if (!result.ok) {
    io.err([...result.errors.map(formatIssue), ...warnings, `${result.errors.length} error(s)`].join('\n'));
    return EXIT.failed;
  }
  if (shadowErrors.length) {
    io.err(
      [
        ...shadowErrors.map((e) => `shadow: ${formatIssue(e)}`),
        ...warnings,
        `${shadowErrors.length} error(s) in the shadow candidate`,
      ].join('\n'),
    );
    return EXIT.failed;
  }
  if (warnings.length) io.err(warnings.join('\n'));
  if (!passed) {
    io.err(`${warnings.length} warning(s), and --strict makes warnings fail the check`);
    return EXIT.failed;
  }
  const s = result.snapshot;
  const shadow = s.shadow ? `; shadow candidate: ${s.shadow.files.join(', ')}` : '';
  io.out(`ok: ${s.services.length} service(s), ${s.users.size} user(s), ${s.keys.size} key(s), ${s.guardrails.size} guardrail(s)${shadow}`);
  return EXIT.ok;
}
