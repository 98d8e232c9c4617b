import { explain, type Explanation } from '../proxy/explain.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, requireString } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';
import { parseTimestamp } from '../reader/values.js';

export const explainHelp =
  'keygate explain -c FILE --key ID --method M --path P [--host H] [--region R] [--service S] [--source-ip IP] [--at TIME] [--json]';

/** Which rule allowed, or which step denied, for a key on a request, without its secret. */
export function runExplain(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    key: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    host: { type: 'string' },
    region: { type: 'string' },
    service: { type: 'string' },
    'source-ip': { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
  });
  const required = {
    keyId: keyIdArg(requireString(args, 'key'), io, '--key'),
    method: requireString(args, 'method'),
    path: requireString(args, 'path'),
  };
  const now = atTime(optionalString(args, 'at'), io); // usage errors (exit 2) before the config is read
  const snapshot = loadOrFail(configPath(args, io), io);
  const result = explain(snapshot, {
    ...required,
    host: optionalString(args, 'host'),
    region: optionalString(args, 'region') ?? snapshot.region,
    service: optionalString(args, 'service'),
    clientIp: optionalString(args, 'source-ip') ?? '127.0.0.1',
    now,
  });
  if ('problem' in result) throw result.problem === 'relative_path' ? new UsageError(result.message) : new CommandFailed(result.message);
  io.out(flag(args, 'json') ? JSON.stringify(result, null, 2) : humanText(result));
  return result.decision === 'allow' ? EXIT.ok : EXIT.failed;
}

function humanText(e: Explanation): string {
  const lines = [
    `decision: ${e.decision.toUpperCase()} (${e.status} ${e.reason})`,
    `step:     ${e.step} (${e.stepName}): ${e.detail}`,
    `key:      ${e.key}${e.user ? ` of user ${e.user}` : ''}`,
  ];
  if (e.clientCert) lines.push(`client certificate: ${e.clientCert} (required on the TLS connection; refused on the decision API)`);
  if (e.service) lines.push(`service:  ${e.service}, path ${e.path}`);
  if (e.userRule) lines.push(`user rule: ${e.userRule.text}   (${e.userRule.source})`);
  if (e.keyRule) lines.push(`key rule:  ${e.keyRule.text}   (${e.keyRule.source})`);
  if (e.decision === 'deny' && e.rule) lines.push(`rule:     ${e.rule.text}   (${e.rule.source})`);
  if (e.rateLimits) lines.push(`limits:   ${e.rateLimits.length ? e.rateLimits.map((l) => l.text).join('; ') : 'none'}`);
  return lines.join('\n');
}

function atTime(text: string | undefined, io: CliIO): number {
  if (text === undefined) return io.now();
  const t = parseTimestamp(text);
  if (typeof t !== 'number') throw new UsageError(`--at: ${t.error}`);
  return t;
}
