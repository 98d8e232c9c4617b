/** A problem found in a config file, located so an operator can jump to it. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
  /** The key the issue is about, when it is about one key: how `keygate key` finds its warnings. */
  readonly keyId?: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

/** Thrown only by callers that want one exception for a whole failed load. */
export class ConfigError extends Error {
  readonly code = 'KEYGATE_CONFIG_INVALID';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map(formatIssue).join('\n')}`);
  }
}
