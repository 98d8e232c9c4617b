import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';

/** Which keygate is this: the CLI, the metrics and the start-up log line all say. */

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function keygate(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/keygate.js'), ...args], { encoding: 'utf8', cwd: REPO });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('keygate --version and keygate version', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the version, exit 0', (arg) => {
    const run = keygate(arg);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toBe(`keygate ${VERSION} (Node.js ${process.version}, ${process.platform}-${process.arch})\n`);
  });

  it('version --json: version, Node version and platform', () => {
    const run = keygate('version', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toEqual({ version: VERSION, node: process.version, platform: `${process.platform}-${process.arch}` });
  });
});

describe('a running keygate', () => {
  const fx = useKeygate();

  it('exports keygate_build_info{version,node} 1', async () => {
    const text = await (await fetch(`${fx.kg.url('admin')}/metrics`)).text();
    expect(text).toContain(`keygate_build_info{version="${VERSION}",node="${process.version}"} 1`);
  });

  it('names its version in the start-up log line', () => {
    const started = fx.kg.logs().find((l) => l.event === 'started');
    expect(started).toMatchObject({ version: VERSION, node: process.version });
  });
});
