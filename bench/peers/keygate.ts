import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startChild, waitForLine, type Child } from '../lib/child.js';
import { freePort, waitReachable } from '../lib/net.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const BENCH_KEYS_FILE = 'bench-keys.yaml';

export interface KeygateConfigOptions {
  /** The upstream origin every service is pointed at. */
  readonly upstream: string;
  /** The generated keys file (see lib/keys.ts), added to the example's keys: its text, or what writes it (a large one, streamed). */
  readonly keysYaml: string | ((file: string) => void);
  readonly accessLog: boolean;
  /** Fixed listen ports (a keygate whose stdout the bench cannot read: file, /dev/null); default port 0. */
  readonly ports?: { readonly proxy: number; readonly admin: number; readonly check: number };
  /** Any further edit of the main config file (e.g. a rate limiter for a bench variant). */
  readonly editMain?: (main: string) => string;
  /** An edit of the policy file (e.g. a rate limit on the bench keys' user). */
  readonly editPolicy?: (policy: string) => string;
}

/**
 * A copy of the example config (config/) in a temp dir: upstreams pointed at the bench
 * upstream, listeners on port 0, the generated keys file added, access log on or off.
 */
export function prepareConfig(opts: KeygateConfigOptions): { dir: string; mainFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'));
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  const keysFile = join(dir, BENCH_KEYS_FILE);
  if (typeof opts.keysYaml === 'string') writeFileSync(keysFile, opts.keysYaml);
  else opts.keysYaml(keysFile);
  const mainFile = join(dir, 'keygate.yaml');
  let main = readFileSync(mainFile, 'utf8')
    .replaceAll('http://127.0.0.1:3000', opts.upstream)
    // `check: host:port`, or `check:` with `address: host:port` under it; `grpc:` always on port 0
    .replace(
      /^(\s+(proxy|admin|check|address|grpc)):[ \t]+(?!#)\S+/gm,
      (_m, head: string, name: 'proxy' | 'admin' | 'check' | 'address' | 'grpc') =>
        `${head}: 127.0.0.1:${name === 'grpc' ? 0 : (opts.ports?.[name === 'address' ? 'check' : name] ?? 0)}`,
    );
  const keysLine = /^keys:\s*\[(.*)\]\s*$/m;
  if (!keysLine.test(main)) throw new Error('bench: config/keygate.yaml has no one-line `keys: [...]` to extend');
  main = main.replace(keysLine, (_m, list: string) => `keys: [${list}, ./${BENCH_KEYS_FILE}]`);
  if (!opts.accessLog) main += '\nlog: { access: false }\n';
  // The 401 rows send unknown keys flat out from one address: without this they would
  // measure the failed-authentication limit's 429 instead of a 401.
  main += '\nrateLimiting: { failedAuth: off }\n';
  if (opts.editMain) main = opts.editMain(main);
  writeFileSync(mainFile, main);
  if (opts.editPolicy) {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, opts.editPolicy(readFileSync(policyFile, 'utf8')));
  }
  return { dir, mainFile };
}

/** Replaces a file as `keygate key` does (temp + rename), so a watcher sees one complete change. */
export function rewriteAtomically(file: string, text: string): void {
  const tmp = `${file}.bench-tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Where keygate's stdout (its log lines) goes. */
export type LogSink = 'pipe' | 'file' | 'devnull';

export interface KeygatePeer {
  readonly child: Child;
  /** The log shipper stand-in that drains keygate's stdout (grep for non-access lines); only with a pipe. */
  readonly drain?: Child;
  readonly proxy: string;
  readonly admin: string;
  /** The decision API, when the config opens it (the example config does). */
  readonly check?: string;
  /** host:port of listen.grpc, when the config opens it (the example config does). */
  readonly grpc?: string;
  readonly startupMs: number;
  readonly configDir: string;
  readonly mainFile: string;
  /** Every non-access log line so far (`"event":...`), e.g. reload results; only with a pipe. */
  events(): string[];
  stop(): Promise<void>;
}

export interface StartKeygateOptions {
  readonly nodeFlags?: readonly string[];
  readonly timeoutMs: number;
  readonly onSpawn?: (c: Child) => void;
  /** Default `pipe`: a separate `grep` drains it, as a container runtime or log shipper would. */
  readonly log?: LogSink;
  /** More `keygate serve` arguments, e.g. ['--workers', '2']. */
  readonly serveArgs?: readonly string[];
  /** Bench-only stage switches (bench/peers/knockoutHooks.mjs), e.g. ['metrics']. */
  readonly knockouts?: readonly string[];
  /** The ports the config listens on: required for `file` and `devnull`, whose started line the bench cannot read. */
  readonly ports?: { readonly proxy: number; readonly admin: number; readonly check: number };
  /** Another build's `bin/keygate.js` (bench/ab.ts `--base`: the code before a change); default this checkout's. */
  readonly bin?: string;
  /**
   * Run tsc's modules (dist/cli/entry.js beside the bin's dist/) instead of the bundle
   * bin/keygate.js runs. Knockouts patch dist/ modules as node loads them, so a keygate
   * with any runs unbundled whatever this says; the stage table runs every row so, for
   * rows that differ in nothing else.
   */
  readonly unbundled?: boolean;
}

const KNOCKOUT_PRELOAD = join(REPO, 'bench/peers/knockouts.mjs');

/** Node flags the image runs keygate with (the Dockerfile's NODE_OPTIONS), so the bench measures what ships. */
export const IMAGE_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1'];

/** Free ports for a keygate whose stdout the bench does not read. */
export async function freeListenPorts(): Promise<{ proxy: number; admin: number; check: number }> {
  return { proxy: await freePort(), admin: await freePort(), check: await freePort() };
}

/**
 * `node bin/keygate.js serve` as a child process, so its CPU and RSS are its own. Its
 * stdout goes into a pipe drained by a separate `grep` process (as a container runtime
 * or log shipper would drain it), which passes only the lines with an "event" to us; or
 * to a file (appended, as a log file on disk) or to /dev/null.
 */
export async function startKeygate(name: string, mainFile: string, configDir: string, opts: StartKeygateOptions): Promise<KeygatePeer> {
  const sink = opts.log ?? 'pipe';
  const knockouts = opts.knockouts ?? [];
  const flags = [...IMAGE_NODE_FLAGS, ...(opts.nodeFlags ?? []), ...(knockouts.length ? ['--import', KNOCKOUT_PRELOAD] : [])];
  const env = { ...process.env, KEYGATE_BENCH_KNOCKOUTS: knockouts.join(',') };
  const bin = opts.bin ?? join(REPO, 'bin/keygate.js');
  const entry = opts.unbundled || knockouts.length ? join(dirname(bin), '../dist/cli/entry.js') : bin;
  const args = [...flags, entry, 'serve', '-c', mainFile, ...(opts.serveArgs ?? [])];
  const started = performance.now();
  if (sink !== 'pipe') return startUnread(name, sink, args, env, configDir, mainFile, started, knockouts, opts);
  const drain = startChild(`${name} log drain`, 'grep', ['--line-buffered', '-F', '"event":'], { stdio: ['pipe', 'pipe', 'pipe'] });
  opts.onSpawn?.(drain);
  const child = startChild(name, process.execPath, args, { stdio: ['ignore', drain.proc.stdin!, 'pipe'], cwd: configDir, env });
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
  checkKnockouts(name, child, knockouts);
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
    ...(parsed.check ? { check: `http://${parsed.check}` } : {}),
    ...(parsed.grpc ? { grpc: parsed.grpc } : {}),
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

async function startUnread(
  name: string,
  sink: 'file' | 'devnull',
  args: string[],
  env: NodeJS.ProcessEnv,
  configDir: string,
  mainFile: string,
  started: number,
  knockouts: readonly string[],
  opts: StartKeygateOptions,
): Promise<KeygatePeer> {
  const ports = opts.ports;
  if (!ports) throw new Error(`${name}: a keygate logging to ${sink} needs fixed ports`);
  const fd = openSync(sink === 'file' ? join(configDir, 'keygate.log') : '/dev/null', 'a');
  const child = startChild(name, process.execPath, args, { stdio: ['ignore', fd, 'pipe'], cwd: configDir, env });
  closeSync(fd);
  opts.onSpawn?.(child);
  const admin = `http://127.0.0.1:${ports.admin}`;
  try {
    await waitReachable(
      `${admin}/readyz`,
      () => child.alive(),
      opts.timeoutMs,
      name,
      () => child.stderr(),
    );
  } catch (e) {
    await child.stop(500);
    throw e;
  }
  checkKnockouts(name, child, knockouts);
  return {
    child,
    proxy: `http://127.0.0.1:${ports.proxy}`,
    admin,
    check: `http://127.0.0.1:${ports.check}`,
    startupMs: performance.now() - started,
    configDir,
    mainFile,
    events: () => [],
    stop: () => child.stop(5_000),
  };
}

/** A knockout whose module was never loaded (renamed, moved) would measure nothing: refuse. */
function checkKnockouts(name: string, child: Child, knockouts: readonly string[]): void {
  const missing = knockouts.filter((k) => !child.stderr().includes(`bench knockout applied: ${k}`));
  if (missing.length)
    throw new Error(`${name}: bench knockout ${missing.join(', ')} did not apply: update bench/peers/knockoutHooks.mjs to the code`);
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
