import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './keygate.js';
import { freePort } from './raw.js';

/** redis-server's path, or why the Redis tests skip. */
export function findRedisServer(): string | { skip: string } {
  const path = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin', '/usr/local/bin']
    .map((dir) => join(dir, 'redis-server'))
    .find((p) => existsSync(p));
  return path ?? { skip: 'redis-server is not installed (apt-get install -y redis-server; .ci/run does this)' };
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Sends one command (inline protocol) and returns the raw reply. */
  command(line: string): Promise<string>;
  /** Kills the server (SIGKILL: a crash, not a shutdown) and waits for it to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server on a free port: no persistence, a temp dir, stopped by pid. */
export async function startRedis(binary: string): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const command = (line: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      let reply = '';
      socket.setTimeout(2000, () => socket.destroy(new Error('redis did not answer')));
      socket.on('data', (c: Buffer) => {
        reply += c.toString();
        if (reply.endsWith('\r\n')) socket.end();
      });
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
      socket.write(`${line}\r\n`);
    });
  const launch = async (): Promise<void> => {
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: 'ignore' },
    );
    await waitFor(
      () =>
        command('PING').then(
          (r) => r.startsWith('+PONG') || undefined,
          () => undefined,
        ),
      10_000,
      () => `redis-server did not answer on port ${port}`,
    );
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    command,
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
