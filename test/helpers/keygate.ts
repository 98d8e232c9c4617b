import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { KeygateApp } from '../../src/cli/app.js';
import { REPO } from './config.js';

const PORT0 = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };

export interface RunningKeygate {
  readonly app: KeygateApp;
  /** http://127.0.0.1:PORT of a listener. */
  url(listener?: 'proxy' | 'admin' | 'check'): string;
  /** 127.0.0.1:PORT of listen.grpc (a gRPC target). */
  grpcTarget(): string;
  /** Every log line so far, parsed. */
  logs(): Record<string, unknown>[];
  /** Raw log text so far (for "no secret appears" assertions). */
  logText(): string;
  close(): Promise<void>;
}

/** The real keygate, in-process, on port 0, with its pino output captured. */
export async function startKeygate(
  configFile: string,
  options: { env?: NodeJS.ProcessEnv; now?: () => number } = {},
): Promise<RunningKeygate> {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const app = await KeygateApp.start({
    configFile,
    env: options.env ?? process.env,
    logDestination: sink,
    listen: { proxy: PORT0, admin: PORT0, check: PORT0, grpc: PORT0 },
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    app,
    url: (listener = 'proxy') => `http://127.0.0.1:${app.port(listener)}`,
    grpcTarget: () => `127.0.0.1:${app.port('grpc')}`,
    logs: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => text,
    close: () => app.shutdown('test'),
  };
}

export interface KeygateProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Ports from the "keygate started" log line. */
  ports(): Promise<Record<'proxy' | 'admin' | 'check', number>>;
}

/** `keygate serve` as a real child process (signals, exit codes, stdout). */
export function spawnKeygate(args: string[], env: NodeJS.ProcessEnv = process.env): KeygateProcess {
  const child = spawn(process.execPath, [`${REPO}/bin/keygate.js`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ports = async (): Promise<Record<'proxy' | 'admin' | 'check', number>> => {
    const line = await waitFor(
      () => out.split('\n').find((l) => l.includes('"event":"started"')),
      30_000,
      () => `keygate did not start: ${err}`,
    );
    const parsed = JSON.parse(line) as Record<string, string>;
    const port = (k: string): number => Number(parsed[k]?.split(':').pop() ?? 0);
    return { proxy: port('proxy'), admin: port('admin'), check: port('check') };
  };
  return { child, stdout: () => out, stderr: () => err, exited, ports };
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. Never a fixed sleep. */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
  message: () => string = () => 'condition not met',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
