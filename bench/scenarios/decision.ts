import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startChild } from '../lib/child.js';
import { REPO } from '../peers/keygate.js';

export interface DecisionResult {
  readonly ran: boolean;
  readonly note: string;
  readonly seconds?: number;
  /** bench/results/policy.json as bench/policy.ts wrote it. */
  readonly json?: unknown;
  /** Its stdout table, for the console. */
  readonly table?: string;
}

/** The policy engine's decision-time microbenchmark (bench/policy.ts), when it exists. */
export async function decisionMicrobench(timeoutMs: number): Promise<DecisionResult> {
  const script = join(REPO, 'bench/policy.ts');
  const output = join(REPO, 'bench/results/policy.json');
  if (!existsSync(script)) return { ran: false, note: 'bench/policy.ts does not exist yet: skipped' };
  const started = performance.now();
  const child = startChild('bench/policy.ts', process.execPath, ['--import', 'tsx', script], { cwd: REPO });
  let stdout = '';
  child.proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const timer = setTimeout(() => void child.stop(1_000), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0)
    return {
      ran: false,
      seconds,
      note: `bench/policy.ts ${signal ? `stopped after ${timeoutMs} ms` : `exited ${code}`}: ${child.stderr().slice(-500)}`,
    };
  const fresh = existsSync(output) && statSync(output).mtimeMs >= Date.now() - seconds * 1000 - 1_000;
  if (!fresh) return { ran: true, seconds, table: stdout, note: 'bench/policy.ts ran but wrote no fresh bench/results/policy.json' };
  return {
    ran: true,
    seconds,
    table: stdout,
    json: JSON.parse(readFileSync(output, 'utf8')) as unknown,
    note: 'bench/policy.ts; JSON copied from bench/results/policy.json',
  };
}
