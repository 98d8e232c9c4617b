import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { REPO } from './config.js';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** `keygate ARGS` as a real process (bin/keygate.js on dist/, which vitest's globalSetup keeps built). */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliRun {
  const env = { ...process.env, KEYGATE_CONFIG: '', ...options.env };
  const r = spawnSync(process.execPath, [join(REPO, 'bin/keygate.js'), ...args], {
    encoding: 'utf8',
    cwd: options.cwd ?? REPO,
    env,
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The same CLI in-process (no spawn: for tables of cases where only the answer matters), with a fixed clock if given. */
export async function runInProcess(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; now?: number } = {},
): Promise<CliRun & { code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const now = options.now;
  const code = await main([...args], {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: options.env ?? {},
    now: now === undefined ? Date.now : () => now,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
