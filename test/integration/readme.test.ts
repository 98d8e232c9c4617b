import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.js';
import { waitFor } from '../helpers/keygate.js';
import { freePort } from '../helpers/raw.js';

/**
 * Follows the README as a new user would: every `sh` block line and every `$` line of a
 * `console` block runs, in order, in one shell, in a temp copy of the repository's
 * config/ (the demo on free ports). Documented answers are checked (curl's `# 403
 * reason` comments, console transcripts), and afterwards the bundled config/ that the
 * other tests copy must be byte for byte what it was.
 */

const SCRATCH = '/tmp/keygate-demo';
const DEMO_PORTS = [8080, 9090, 9191, 9192, 3000] as const;
const DEMO_IDS = ['DT7nOCBZHjkw', 'ZzPjRE9uyI9s', 'J5fIC0OTO4Co'];

/** Lines a test cannot run, with the reason. */
const NOT_RUN: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm ci\b/, 'the suite already runs after npm ci'],
  [/^npm test\b/, 'this test is part of npm test'],
  [/^npm run build\b/, 'npm test has built dist/ before this test runs'],
  [/^npm run bench/, 'benchmarks are not tests'],
  [/^(docker|kubectl)\b/, 'no container engine or cluster here'],
];

interface Command {
  readonly index: number;
  readonly line: string;
  readonly comment: string;
  /** The transcript lines a console block shows after the command. */
  readonly documented: readonly string[];
}

/** `npm ci && X` is X here: the suite already runs after npm ci. */
const withoutInstall = (line: string): string => line.replace(/^npm ci && /, '');

function readmeCommands(markdown: string): Command[] {
  const commands: Command[] = [];
  for (const [, lang, body] of markdown.matchAll(/^```(sh|console)\n([\s\S]*?)^```/gm)) {
    const lines = body.split('\n');
    lines.forEach((raw, i) => {
      const text = lang === 'console' ? (raw.startsWith('$ ') ? raw.slice(2) : undefined) : raw.trim();
      if (text === undefined || text === '' || text.startsWith('#')) return;
      const documented: string[] = [];
      if (lang === 'console') for (let j = i + 1; j < lines.length && !lines[j].startsWith('$ '); j++) documented.push(lines[j]);
      const [full, comment] = splitComment(text);
      const line = withoutInstall(full);
      commands.push({ index: commands.length, line, comment, documented });
    });
  }
  return commands;
}

/** `cmd args   # comment` → [cmd args, comment]; a `#` inside quotes is not a comment. */
function splitComment(text: string): [string, string] {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) quote = c === quote ? '' : quote;
    else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && /\s/.test(text[i - 1] ?? ' ')) return [text.slice(0, i).trim(), text.slice(i + 1).trim()];
  }
  return [text.trim(), ''];
}

const skipReason = (c: Command): string | undefined => NOT_RUN.find(([re]) => re.test(c.line))?.[1];
const isDemo = (c: Command): boolean => /^npx keygate demo\b|^npm run demo\b/.test(c.line);
const expectedStatus = (c: Command): number | undefined =>
  c.line.startsWith('curl ') && /^\d{3}\b/.test(c.comment) ? Number(c.comment.slice(0, 3)) : undefined;

describe('the README, followed from a fresh clone', () => {
  const commands = readmeCommands(readFileSync(join(REPO, 'README.md'), 'utf8'));
  let work: string;
  let ports: Map<number, number>;
  let configBefore: string;
  const results = new Map<number, { rc: number; out: string; err: string }>();
  let localize: (text: string) => string;

  beforeAll(async () => {
    configBefore = digestOf(join(REPO, 'config'));
    work = mkdtempSync(join(tmpdir(), 'keygate-readme-'));
    ports = new Map();
    for (const p of DEMO_PORTS) ports.set(p, await freePort());
    localize = (text) =>
      text
        .replaceAll(SCRATCH, join(work, 'scratch'))
        .replace(
          /\b(localhost|127\.0\.0\.1):(8080|9090|9191|9192|3000)\b/g,
          (_, host: string, port: string) => `${host}:${ports.get(Number(port))}`,
        );
    // The reader's clone; the scratch copy sits outside it, as /tmp/keygate-demo does.
    cpSync(join(REPO, 'config'), join(work, 'clone/config'), { recursive: true });
    const main = join(work, 'clone/config/keygate.yaml');
    writeFileSync(main, localize(readFileSync(main, 'utf8')));
    writeFileSync(join(work, 'readme.sh'), script(commands, work, localize));
    const code = await run('bash', [join(work, 'readme.sh')], join(work, 'clone'), 90_000);
    expect(code).toBe(0);
    for (const c of commands) {
      if (skipReason(c) !== undefined || !existsSync(join(work, `rc.${c.index}`))) continue;
      const read = (name: string): string => readFileSync(join(work, `${name}.${c.index}`), 'utf8');
      results.set(c.index, { rc: Number(read('rc').trim()), out: read('out'), err: read('err') });
    }
  }, 120_000);

  afterAll(async () => {
    const pid = work && existsSync(join(work, 'demo.pid')) ? Number(readFileSync(join(work, 'demo.pid'), 'utf8')) : 0;
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
        // It saves key usage into the scratch copy as it stops: remove the copy after that.
        await waitFor(() => (alive(pid) ? undefined : true), 10_000);
      } catch {
        // already gone
      }
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has commands to follow, and every one that can run here ran', () => {
    expect(commands.filter((c) => c.line.includes('keygate key create')).length).toBeGreaterThan(0);
    const ran = commands.filter((c) => skipReason(c) === undefined && !isDemo(c));
    expect(ran.filter((c) => !results.has(c.index)).map((c) => c.line)).toEqual([]);
  });

  it('every command succeeds (explain may deny: exit 1 is its answer)', () => {
    const failed = commands.filter((c) => {
      const r = results.get(c.index);
      if (!r || isDemo(c)) return false;
      const denied = /\bexplain\b/.test(c.line) && r.rc === 1 && /decision: DENY/.test(r.out);
      return r.rc !== 0 && !denied;
    });
    expect(failed.map((c) => `${c.line}\n  exit ${results.get(c.index)!.rc}: ${results.get(c.index)!.err}`)).toEqual([]);
  });

  it('each curl answers with the status and reason its comment documents', () => {
    const curls = commands.filter((c) => expectedStatus(c) !== undefined);
    expect(curls.length).toBeGreaterThanOrEqual(4);
    for (const c of curls) {
      const { out } = results.get(c.index)!;
      expect(out, c.line).toMatch(new RegExp(`HTTP ${expectedStatus(c)}\\n?$`));
      const reason = /\b[a-z]+(?:_[a-z]+)+\b/.exec(c.comment)?.[0];
      if (reason) expect(out, c.line).toContain(`"reason":"${reason}"`);
    }
  });

  it('console transcripts show what the commands print (ids, keys and times aside)', () => {
    for (const c of commands.filter((x) => x.documented.some((l) => l.trim() !== ''))) {
      const r = results.get(c.index)!;
      const actual = new Set(normalize(localize(`${r.out}\n${r.err}`)));
      const missing = normalize(localize(c.documented.join('\n'))).filter((l) => !actual.has(l));
      expect(missing, `${c.line}\n--- printed:\n${r.out}${r.err}`).toEqual([]);
    }
  });

  it('explain in the README agrees with the curl it explains', () => {
    const explains = commands.filter((c) => /keygate explain\b/.test(c.line));
    expect(explains.length).toBeGreaterThan(0);
    for (const c of explains) expect(results.get(c.index)!.out).toMatch(/decision: DENY \(403 key_scope_denied\)/);
  });

  it('edited the scratch copy, and left the bundled config/ (which the other tests copy) untouched', () => {
    expect(readFileSync(join(work, 'scratch/keys.yaml'), 'utf8')).toContain('name: ci-deploy');
    expect(digestOf(join(REPO, 'config'))).toBe(configBefore);
  });
});

/** One shell for the whole README, so variables (MON=…, KEYGATE_CONFIG) carry over as they would for a reader. */
function script(commands: readonly Command[], work: string, localize: (t: string) => string): string {
  const lines = [
    'set -u',
    `cd ${JSON.stringify(join(work, 'clone'))}`,
    `npx() { if [ "$1" = keygate ]; then shift; node ${JSON.stringify(join(REPO, 'bin/keygate.js'))} "$@"; else echo "npx $1 is not expected in the README" >&2; return 127; fi; }`,
  ];
  for (const c of commands) {
    if (skipReason(c) !== undefined) continue;
    const line = localize(c.line);
    if (isDemo(c)) {
      // `npm run demo` is package.json's script, run step by step: its scratch copy, then keygate.
      const steps = (line.startsWith('npm run demo') ? localize(demoScript()) : line).split(' && ');
      const demo = steps.pop()!;
      // exec in a subshell, so $! is the keygate process itself and afterAll's SIGTERM reaches it.
      const direct = demo.replace(/^(npx keygate|node bin\/keygate\.js)\b/, `exec node ${JSON.stringify(join(REPO, 'bin/keygate.js'))}`);
      lines.push(
        ...steps,
        `( ${direct} ) > ../demo.out 2> ../demo.err &`,
        'echo $! > ../demo.pid',
        // Poll (bounded) until the demo has logged that it listens.
        'for i in $(seq 1 300); do grep -q \'"event":"started"\' ../demo.out 2>/dev/null && break; sleep 0.05; done',
        'grep -q \'"event":"started"\' ../demo.out || { echo "the demo did not start:" >&2; cat ../demo.err >&2; exit 1; }',
      );
      continue;
    }
    const runnable = expectedStatus(c) !== undefined ? `${line} -s -w '\\nHTTP %{http_code}\\n'` : line;
    lines.push(`{ ${runnable}\n} > ../out.${c.index} 2> ../err.${c.index}; echo $? > ../rc.${c.index}`);
  }
  return `${lines.join('\n')}\n`;
}

function demoScript(): string {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts.demo;
}

/** Ids and keys minted while following the README, times and padding differ from the README's; the rest must not. */
function normalize(text: string): string[] {
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/kg_[0-9A-Za-z_]+/g, 'KEY')
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, 'TIME')
        .replace(/\b[0-9A-Za-z]{12}\b/g, (id) => (DEMO_IDS.includes(id) ? id : 'ID'))
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((l) => l !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function digestOf(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(`${path}\0`).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: timeoutMs,
      env: { ...process.env, KEYGATE_CONFIG: '' },
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) process.stderr.write(err);
      resolve(code);
    });
  });
}
