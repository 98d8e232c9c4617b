import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A process the bench started: its pid, its stderr so far, and a bounded stop. */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  alive(): boolean;
  /** Set once stop() was called: its exit is expected, not a crash. */
  readonly stopping: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; only this process, by its pid. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_KEPT = 16 * 1024;

export function startChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString('utf8')).slice(-STDERR_KEPT);
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const pid = proc.pid;
  let stopping = false;
  return {
    name,
    proc,
    pid,
    exited,
    stderr: () => err,
    alive: () => !done,
    get stopping() {
      return stopping;
    },
    stop: async (graceMs = 3_000) => {
      stopping = true;
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Resolves with the first stdout line that `match` accepts, or rejects when the
 * process exits or `timeoutMs` passes (a server that did not start is a broken run).
 */
export function waitForLine(child: Child, match: (line: string) => boolean, timeoutMs: number): Promise<string> {
  const out = child.proc.stdout;
  if (!out) return Promise.reject(new Error(`${child.name}: no stdout`));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      out.off('data', onData);
      out.resume(); // later output is drained, never left to fill the pipe
      fn();
    };
    const onData = (c: Buffer): void => {
      buffered += c.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const hit = lines.find(match);
      if (hit !== undefined) finish(() => resolve(hit));
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`${child.name} did not start within ${timeoutMs} ms: ${child.stderr().slice(-2000)}`))),
      timeoutMs,
    );
    out.on('data', onData);
    void child.exited.then(({ code, signal }) =>
      finish(() => reject(new Error(`${child.name} exited (${code ?? signal}) before it was ready: ${child.stderr().slice(-2000)}`))),
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
