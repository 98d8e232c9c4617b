import { fileLines } from '../replay/accessLines.js';
import { replayLogs } from '../replay/replay.js';
import { reportJson, reportText } from '../replay/report.js';
import { parseDuration } from '../reader/values.js';
import { CONFIG_OPTION, configPath, flag, optionalString, parseCommand, stringList } from './args.js';
import { CommandFailed, EXIT, UsageError, type CliIO } from './io.js';
import { loadOrFail } from './loadOrFail.js';

export const replayHelp =
  'keygate replay -c CANDIDATE.yaml --log FILE [--log FILE]... [--since 24h|2026-12-01T00:00:00Z] [--json]\n' +
  '    decide the requests of keygate access logs (JSON lines, gzip accepted) again with a candidate config;\n' +
  '    prints what would change by key and by rule; exit 1 if any allowed request would be denied';

export async function runReplay(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, {
    ...CONFIG_OPTION,
    log: { type: 'string', multiple: true },
    since: { type: 'string' },
    json: { type: 'boolean' },
  });
  const configFile = configPath(args, io);
  const logs = stringList(args, 'log');
  if (logs.length === 0) throw new UsageError('--log FILE is required (an access log keygate wrote; .gz accepted)');
  const since = sinceOf(optionalString(args, 'since'), io.now());
  const candidate = loadOrFail(configFile, io);
  const summary = await replayLogs(linesOf(logs), candidate, since).catch((e: unknown) => {
    throw new CommandFailed(`cannot read the log: ${e instanceof Error ? e.message : String(e)}`);
  });
  io.out(flag(args, 'json') ? JSON.stringify(reportJson(summary, configFile), null, 2) : reportText(summary, configFile));
  return summary.changes.allowed_to_denied.count > 0 ? EXIT.failed : EXIT.ok;
}

async function* linesOf(files: readonly string[]): AsyncGenerator<string[]> {
  for (const file of files) yield* fileLines(file);
}

/** `--since`: a duration back from now (`24h`, `7d`) or an ISO 8601 instant; epoch ms. */
function sinceOf(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const ago = parseDuration(text);
  if (typeof ago === 'number') return now - ago;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--since "${text}" is neither a duration (24h, 7d) nor an ISO 8601 time`);
  return at;
}
