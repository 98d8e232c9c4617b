import { CONFIG_OPTION, configPath, parseCommand, requirePositional } from './args.js';
import { EXIT, HelpRequested, UsageError, type CliIO, type CommandOptions } from './io.js';
import { loadOrFail } from './loadOrFail.js';

export const completionHelp =
  'keygate completion bash|zsh   a shell completion script: commands, options, and key ids from the config (source <(keygate completion bash))';

/** One completable command: its words (`key create`), options, and whether it takes a key id. */
export interface CompletionEntry {
  readonly path: readonly string[];
  readonly options: CommandOptions;
  readonly takesKeyId: boolean;
}

type Runner = (argv: string[], io: CliIO) => number | Promise<number>;

/** Options a string option takes a file for: the shell completes file names there. */
const FILE_OPTIONS = ['config', 'from', 'keys-file'];
/** Options whose value is a key id. */
const KEY_ID_OPTIONS = ['key'];

/**
 * Each command's options, read from its own parser: asked for `--help`, a command throws
 * HelpRequested with the options it accepts before it reads anything, so the completion
 * can never offer a flag the command would refuse.
 */
export async function optionsOf(run: Runner, path: readonly string[]): Promise<HelpRequested | undefined> {
  const quiet: CliIO = { out: () => undefined, err: () => undefined, env: {}, now: Date.now };
  try {
    await run([...path, '--help'], quiet);
  } catch (e) {
    if (e instanceof HelpRequested) return e;
  }
  return undefined;
}

export async function runCompletion(argv: string[], io: CliIO, entries: () => Promise<CompletionEntry[]>): Promise<number> {
  const args = parseCommand(argv, CONFIG_OPTION, 1);
  const shell = requirePositional(args, 'the shell (bash or zsh)');
  if (shell === 'ids') return printKeyIds(configPath(args, io), io);
  if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`no completion for "${shell}": bash or zsh`);
  const script = bashScript(await entries());
  io.out(shell === 'bash' ? script : zshScript(script));
  return EXIT.ok;
}

/** `keygate completion ids`: the key ids of the config, one a line, for the script; quiet when the config does not load. */
function printKeyIds(configFile: string, io: CliIO): number {
  try {
    io.out([...loadOrFail(configFile, io).keys.ids()].join('\n'));
  } catch {
    // A TAB press must never print an error into the command line.
  }
  return EXIT.ok;
}

function words(list: Iterable<string>): string {
  return [...list].join(' ');
}

function flagWords(options: CommandOptions): string {
  return words([...Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]), '--help']);
}

function bashScript(entries: readonly CompletionEntry[]): string {
  const top = entries.filter((e) => e.path.length === 1).map((e) => e.path[0]);
  const subs = entries.filter((e) => e.path.length === 2).map((e) => e.path[1]);
  const flagCases = entries.map((e) => `      "${e.path.join(' ')}") flags="${flagWords(e.options)}" ;;`);
  const idCommands = entries.filter((e) => e.takesKeyId).map((e) => `"${e.path.join(' ')}"`);
  const fileFlags = FILE_OPTIONS.flatMap((o) => [`--${o}`, ...(o === 'config' ? ['-c'] : [])]).join('|');
  const idFlags = KEY_ID_OPTIONS.map((o) => `--${o}`).join('|');
  return `# keygate completion for bash. Load it with: source <(keygate completion bash)
# Commands and options come from keygate itself; key ids from the config (-c, $KEYGATE_CONFIG or ./keygate.yaml).
_keygate_ids() {
  local i config=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -c|--config) config=(-c "\${COMP_WORDS[i+1]}") ;; esac
  done
  keygate completion ids "\${config[@]}" 2>/dev/null
}
_keygate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="\${COMP_WORDS[1]}" path flags
  if ((COMP_CWORD == 1)); then
    COMPREPLY=($(compgen -W "${words(top)} --help --version" -- "$cur"))
    return
  fi
  if [[ $cmd == key ]]; then
    if ((COMP_CWORD == 2)); then
      COMPREPLY=($(compgen -W "${words(subs)}" -- "$cur"))
      return
    fi
    path="key \${COMP_WORDS[2]}"
  else
    path="$cmd"
  fi
  case "$prev" in
    ${fileFlags}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${idFlags}) COMPREPLY=($(compgen -W "$(_keygate_ids)" -- "$cur")); return ;;
  esac
  case "$path" in
${flagCases.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$path" in
    ${idCommands.join('|') || '""'}) COMPREPLY=($(compgen -W "$(_keygate_ids)" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
  esac
}
complete -F _keygate keygate
`;
}

/** zsh runs the bash function through bashcompinit, as many CLIs' zsh completions do. */
function zshScript(bash: string): string {
  return `#compdef keygate
# keygate completion for zsh. Load it with: source <(keygate completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash.split('\n').slice(2).join('\n')}`;
}
