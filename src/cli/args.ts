import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../policy/suggest.js';
import { HelpRequested, UsageError, type CliIO, type CommandOptions } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * node:util parseArgs, with every parse error turned into a UsageError (exit 2) and
 * `--help`/`-h` (anywhere before `--`) into HelpRequested.
 */
export function parseCommand(argv: string[], options: Options, positionals = 0): Parsed {
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) throw new HelpRequested(options as CommandOptions);
  let parsed: Parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options,
      allowPositionals: positionals > 0,
      strict: true,
    }) as Parsed;
  } catch (e) {
    throw new UsageError(parseErrorMessage(e as Error & { code?: string }, options as CommandOptions));
  }
  if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
  return parsed;
}

export function requireString(p: Parsed, name: string): string {
  const v = p.values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function stringList(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function requirePositional(p: Parsed, what: string): string {
  const v = p.positionals[0];
  if (!v) throw new UsageError(`${what} is required`);
  return v;
}

export const CONFIG_OPTION: Options = { config: { type: 'string', short: 'c' } };

/** The main config file: `-c FILE`, else $KEYGATE_CONFIG, else ./keygate.yaml (as kubectl falls back to $KUBECONFIG). */
export function configPath(p: Parsed, io: CliIO): string {
  const given = optionalString(p, 'config') ?? io.env.KEYGATE_CONFIG;
  if (given !== undefined && given !== '') return given;
  if (existsSync('keygate.yaml')) return 'keygate.yaml';
  throw new UsageError(
    'which configuration? pass -c FILE, or set KEYGATE_CONFIG; without either keygate reads ./keygate.yaml, and there is none here',
  );
}

/** `--config/-c FILE, --json, ...`: how usage errors and help name a command's options. */
export function optionNames(options: CommandOptions): string[] {
  return Object.entries(options).map(([name, o]) => `--${name}${o.short ? `/-${o.short}` : ''}`);
}

/** An unknown option names the valid ones (and the closest one); other parse errors keep node's words. */
function parseErrorMessage(e: Error & { code?: string }, options: CommandOptions): string {
  const unknown = /^Unknown option '([^']+)'/.exec(e.message)?.[1];
  if (e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || unknown === undefined) return e.message;
  const names = Object.keys(options).map((n) => `--${n}`);
  return `unknown option "${unknown}"${didYouMean(unknown, names)} (valid options: ${[...optionNames(options), '--help'].join(', ')})`;
}
