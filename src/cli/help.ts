import type { CommandOptions, HelpRequested } from './io.js';

/** What each command's `--help` shows after its usage and options: commands an operator can paste. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  serve: ['keygate serve -c /etc/keygate/keygate.yaml', 'keygate serve --workers auto    # -c from $KEYGATE_CONFIG or ./keygate.yaml'],
  check: ['keygate check -c config/keygate.yaml', 'keygate check --offline --strict --json    # in CI, without the service tokens'],
  explain: [
    'keygate explain --key DT7nOCBZHjkw --method GET --path /compute/v2/p1/servers/42',
    'keygate explain --key DT7nOCBZHjkw --method DELETE --path /v2/p1/servers/42 --service compute --json',
  ],
  permissions: ['keygate permissions DT7nOCBZHjkw', 'keygate permissions DT7nOCBZHjkw --json'],
  demo: ['keygate demo -c config/keygate.yaml'],
  version: ['keygate version', 'keygate version --json'],
  jwks: ['keygate jwks > jwks.json    # the public keys an upstream verifies assertions with'],
  completion: [
    'source <(keygate completion bash)                     # this shell',
    'keygate completion zsh > "${fpath[1]}/_keygate"       # zsh, for good',
  ],
  key: ['keygate key list', 'keygate key create --help'],
  'key create': [
    'keygate key create --user joe --name grafana --read-only --expires 90d',
    'keygate key create --user joe --name ci --allow "compute read /v2/**" --allow "compute POST /v2/*/servers" --source-ip 10.0.0.0/8',
    'keygate key create --user alice --name admin --inherit --deny "compute DELETE /**" --json',
  ],
  'key list': ['keygate key list', 'keygate key list --user joe --state expired --json'],
  'key show': ['keygate key show DT7nOCBZHjkw', 'keygate key show DT7nOCBZHjkw --json'],
  'key update': [
    'keygate key update DT7nOCBZHjkw --expires 30d --comment "renewed for Q3"',
    'keygate key update DT7nOCBZHjkw --source-ip 10.0.0.0/8 --source-ip 192.168.1.0/24',
    'keygate key update DT7nOCBZHjkw --inherit --deny none --expires never',
  ],
  'key revoke': ['keygate key revoke DT7nOCBZHjkw'],
  'key enable': ['keygate key enable DT7nOCBZHjkw'],
  'key delete': ['keygate key delete DT7nOCBZHjkw'],
  'key rotate': ['keygate key rotate DT7nOCBZHjkw --json'],
  'key import': ['keygate key import --user legacy --from old-secrets.txt    # one secret a line; keys are disabled for review'],
};

/** `keygate key create --help`: the usage line, every option the command accepts, and examples. */
export function renderHelp(help: HelpRequested): string {
  const examples = EXAMPLES[help.command ?? ''] ?? [];
  return [
    `usage: ${help.usage ?? `keygate ${help.command ?? ''}`}`,
    '',
    'options:',
    ...optionLines(help.options),
    ...(examples.length ? ['', 'examples:', ...examples.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

function optionLines(options: CommandOptions): string[] {
  const lines = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${name === 'config' ? 'FILE' : 'VALUE'}` : ''}`;
    return `  ${flag}${o.multiple ? '   (repeatable)' : ''}`;
  });
  return [...lines, '  -h, --help'];
}
