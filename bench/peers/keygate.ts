import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startChild, waitForLine, type Child } from '../lib/child.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const BENCH_KEYS_FILE = 'bench-keys.yaml';

export interface KeygateConfigOptions {
  /** The upstream origin every service is pointed at. */
  readonly upstream: string;
  /** The generated keys file text (see lib/keys.ts), added to the example's keys. */
  readonly keysYaml: string;
  readonly accessLog: boolean;
}

/**
 * A copy of the example config (config/) in a temp dir: upstreams pointed at the bench
 * upstream, listeners on port 0, the generated keys file added, access log on or off.
 */
export function prepareConfig(opts: KeygateConfigOptions): { dir: string; mainFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'));
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  writeFileSync(join(dir, BENCH_KEYS_FILE), opts.keysYaml);
  const mainFile = join(dir, 'keygate.yaml');
  let main = readFileSync(mainFile, 'utf8')
    .replaceAll('http://127.0.0.1:3000', opts.upstream)
    .replace(/^(\s+(?:proxy|admin|check)):\s*\S+/gm, '$1: 127.0.0.1:0');
  const keysLine = /^keys:\s*\[(.*)\]\s*$/m;
  if (!keysLine.test(main)) throw new Error('bench: config/keygate.yaml has no one-line `keys: [...]` to extend');
  main = main.replace(keysLine, (_m, list: string) => `keys: [${list}, ./${BENCH_KEYS_FILE}]`);
  if (!opts.accessLog) main += '\nlog: { access: false }\n';
  writeFileSync(mainFile, main);
  return { dir, mainFile };
}

/** Replaces a file as `keygate key` does (temp + rename), so a watcher sees one complete change. */
export function rewriteAtomically(file: string, text: string): void {
  const tmp = `${file}.bench-tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export interface KeygatePeer {
  readonly child: Child;
  /** The log shipper stand-in that drains keygate's stdout (grep for non-access lines). */
  readonly drain: Child;
  readonly proxy: string;
  readonly admin: string;
  readonly startupMs: number;
  readonly configDir: string;
  readonly mainFile: string;
  /** Every non-access log line so far (`"event":...`), e.g. reload results. */
  events(): string[];
  stop(): Promise<void>;
}

/**
 * `node bin/keygate.js serve` as a child process, so its CPU and RSS are its own. Its
 * stdout goes into a pipe drained by a separate `grep` process (as a container runtime
 * or log shipper would drain it), which passes only the lines with an "event" to us.
 */
export async function startKeygate(
  name: string,
  mainFile: string,
  configDir: string,
  opts: { nodeFlags?: readonly string[]; timeoutMs: number; onSpawn?: (c: Child) => void },
): Promise<KeygatePeer> {
  const drain = startChild(`${name} log drain`, 'grep', ['--line-buffered', '-F', '"event":'], { stdio: ['pipe', 'pipe', 'pipe'] });
  opts.onSpawn?.(drain);
  const started = performance.now();
  const child = startChild(name, process.execPath, [...(opts.nodeFlags ?? []), join(REPO, 'bin/keygate.js'), 'serve', '-c', mainFile], {
    stdio: ['ignore', drain.proc.stdin!, 'pipe'],
    cwd: configDir,
  });
  opts.onSpawn?.(child);
  const events: string[] = [];
  const ready = waitForLine(drain, (l) => l.includes('"event":"started"'), opts.timeoutMs);
  const startedLine = await Promise.race([
    ready,
    child.exited.then(({ code, signal }) => {
      throw new Error(`${name} exited (${code ?? signal}) before it was ready: ${child.stderr().slice(-2000)}`);
    }),
  ]).catch(async (e: unknown) => {
    await child.stop(500);
    await drain.stop(500);
    throw e;
  });
  const startupMs = performance.now() - started;
  let buffered = '';
  drain.proc.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    events.push(...lines.filter(Boolean));
  });
  const parsed = JSON.parse(startedLine) as Record<string, string>;
  if (!parsed.proxy || !parsed.admin) throw new Error(`${name}: started line has no proxy/admin address: ${startedLine}`);
  return {
    child,
    drain,
    proxy: `http://${parsed.proxy}`,
    admin: `http://${parsed.admin}`,
    startupMs,
    configDir,
    mainFile,
    events: () => events,
    stop: async () => {
      await child.stop(5_000);
      await drain.stop(1_000);
    },
  };
}

/** One gauge or counter value from keygate's /metrics (summed over label sets). */
export async function metricValue(admin: string, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
      sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  } catch {
    return undefined;
  }
}
