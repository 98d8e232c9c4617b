import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { DEMO_KEYS, REPO, tempConfig, type TempConfig } from '../helpers/config.js';

/** --json everywhere: every printing command's shape is the one docs/json-output.md documents. */

const { id: MON } = DEMO_KEYS.monitoring;
const { id: DEPLOY } = DEMO_KEYS.deploy;

interface Shape {
  array: boolean;
  required: string[];
  optional: string[];
}

/** The table of docs/json-output.md: `| \`key show\` | object | id, user, … |`. */
function documentedShapes(): Map<string, Shape> {
  const text = readFileSync(join(REPO, 'docs/json-output.md'), 'utf8');
  const shapes = new Map<string, Shape>();
  for (const m of text.matchAll(/^\| `([a-z ]+)` \| (object|array of) \| ([^|]+) \|$/gm)) {
    const fields = m[3].split(',').map((f) => f.trim());
    shapes.set(m[1], {
      array: m[2] === 'array of',
      required: fields.filter((f) => !f.endsWith('?')),
      optional: fields.filter((f) => f.endsWith('?')).map((f) => f.slice(0, -1)),
    });
  }
  return shapes;
}

let cfg: TempConfig;
const NOW = Date.parse('2026-12-01T00:00:00Z');

async function json(...args: string[]): Promise<{ code: number; value: unknown; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const config = args[0] === 'version' ? [] : ['-c', cfg.mainFile];
  const code = await main([...args, '--json', ...config], {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
    now: () => NOW,
  });
  return { code, value: out.length === 1 ? (JSON.parse(out[0]) as unknown) : out, err: err.join('\n') };
}

beforeAll(() => {
  cfg = tempConfig('http://127.0.0.1:3000');
  writeFileSync(cfg.path('legacy.txt'), 'an-old-plaintext-api-secret-4f7b-9c2e-11aa\n');
  writeFileSync(cfg.path('access.log'), '');
});
afterAll(() => cfg.cleanup());

describe('--json', () => {
  const shapes = documentedShapes();
  let created = '';
  const runs: [string, () => string[]][] = [
    ['check', () => ['check', '--offline']],
    ['explain', () => ['explain', '--key', MON, '--method', 'GET', '--path', '/compute/v2/p1/servers/42']],
    ['permissions', () => ['permissions', MON]],
    ['version', () => ['version']],
    ['jwks', () => ['jwks']],
    ['report', () => ['report']],
    ['replay', () => ['replay', '--log', cfg.path('access.log')]],
    ['key create', () => ['key', 'create', '--user', 'joe', '--name', 'json-test', '--read-only']],
    ['key list', () => ['key', 'list']],
    ['key show', () => ['key', 'show', MON]],
    ['key update', () => ['key', 'update', MON, '--comment', 'json shape test']],
    ['key revoke', () => ['key', 'revoke', DEPLOY]],
    ['key enable', () => ['key', 'enable', DEPLOY]],
    ['key rotate', () => ['key', 'rotate', MON, '--shadow-allow', 'compute GET /v2/**']],
    ['key promote', () => ['key', 'promote', MON]],
    ['key prune', () => ['key', 'prune']],
    ['key import', () => ['key', 'import', '--user', 'joe', '--from', cfg.path('legacy.txt')]],
    ['key delete', () => ['key', 'delete', created]],
  ];

  it('documents every command that takes --json (all but serve, which logs JSON, and completion, a script)', async () => {
    const all = [
      ...['serve', 'check', 'explain', 'permissions', 'report', 'replay', 'demo', 'version', 'jwks', 'completion'],
      ...['create', 'list', 'show', 'update', 'revoke', 'enable', 'delete', 'rotate', 'promote', 'prune', 'import'].map((c) => `key ${c}`),
    ];
    for (const command of all) {
      const help = (await runHelp(command.split(' '))).join('\n');
      const takesJson = help.includes('\n      --json\n');
      expect(takesJson, command).toBe(command !== 'serve' && command !== 'completion');
      expect(shapes.has(command), command).toBe(takesJson);
    }
  });

  it.each(runs)('%s prints the documented fields, in order', async (command, args) => {
    const run = await json(...args());
    expect(run.code, run.err).toBe(0);
    const shape = shapes.get(command)!;
    const objects = (shape.array ? run.value : [run.value]) as Record<string, unknown>[];
    expect(Array.isArray(objects) && objects.length > 0).toBe(true);
    for (const o of objects) {
      const keys = Object.keys(o);
      expect(keys.filter((k) => !shape.optional.includes(k))).toEqual(shape.required);
      expect(
        keys.every((k) => shape.required.includes(k) || shape.optional.includes(k)),
        keys.join(),
      ).toBe(true);
    }
    if (command === 'key create') created = (run.value as { id: string }).id;
  });

  it('a failure with --json is one JSON object on stderr, with its code and exit status (a real process)', () => {
    const run = runCli(['key', 'show', 'ZZZZZZZZZZZZ', '--json', '-c', cfg.mainFile]);
    expect(run.code).toBe(1);
    expect(run.out).toBe('');
    expect(JSON.parse(run.err)).toEqual({
      error: { code: 'KEYGATE_FAILED', exit: 1, command: 'key show', message: expect.stringContaining('unknown key id') as unknown },
    });
  });

  it('a usage error with --json is KEYGATE_USAGE, exit 2, naming the subcommand', async () => {
    const usage = await json('key', 'create', '--nme', 'x');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.err)).toMatchObject({ error: { code: 'KEYGATE_USAGE', exit: 2, command: 'key create' } });
  });
});

async function runHelp(path: string[]): Promise<string[]> {
  const out: string[] = [];
  await main([...path, '--help'], { out: (t) => void out.push(t), err: () => undefined, env: {}, now: () => NOW });
  return out;
}
