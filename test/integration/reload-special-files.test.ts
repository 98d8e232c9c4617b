import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { tempConfig, type TempConfig } from '../helpers/config.js';
import { startKeygate, waitFor, type RunningKeygate } from '../helpers/keygate.js';
import { keyEntry, newKey } from '../helpers/keys.js';
import { appendTopLevel } from '../helpers/mainFile.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Only regular files are read: a FIFO (or a directory) swapped in for keys.yaml is a
 * failed reload naming the file — not a reload stuck for good — and once a real file
 * is back, reloads work again.
 */
const PATH = '/compute/v2/p1/servers/42';

let env: { upstream: TestUpstream; cfg: TempConfig; kg: RunningKeygate } | undefined;
afterEach(async () => {
  await env?.kg.close();
  await env?.upstream.close();
  env?.cfg.cleanup();
  env = undefined;
});

async function status(kg: RunningKeygate, key: string): Promise<number> {
  const res = await fetch(`${kg.url()}${PATH}`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

function keysWith(cfg: TempConfig, original: string, key: ReturnType<typeof newKey>, name: string): string {
  return `${original.trimEnd()}\n${keyEntry(key, 'joe', name, ['scope: inherit'])}\n`;
}

const SWAPS = [
  { what: 'a FIFO', make: (path: string) => execFileSync('mkfifo', [path]), kind: 'a FIFO' },
  { what: 'a directory', make: (path: string) => mkdirSync(path), kind: 'a directory' },
];

describe('reloads read regular files only', () => {
  it.each(SWAPS)('$what swapped in for keys.yaml and out again leaves reloads working', async ({ make, kind }) => {
    const upstream = await startUpstream();
    const cfg = tempConfig(upstream.origin, (m) => appendTopLevel(m, 'reload: { interval: 300ms, debounce: 20ms }'));
    const kg = await startKeygate(cfg.mainFile);
    env = { upstream, cfg, kg };
    const original = cfg.read('keys.yaml');
    const before = newKey();
    cfg.write('keys.yaml', keysWith(cfg, original, before, 'before'));
    await waitFor(async () => (await status(kg, before.key)) === 200);

    rmSync(cfg.path('keys.yaml'));
    make(cfg.path('keys.yaml'));
    const outcome = await kg.app.reload('signal');
    expect(outcome.result).toBe('failure');
    const failed = outcome.result === 'failure' ? outcome.errors.map((e) => `${e.file}: ${e.message}`).join('\n') : '';
    expect(failed).toContain(cfg.path('keys.yaml'));
    expect(failed).toContain(`not a regular file (${kind})`);
    expect(await status(kg, before.key)).toBe(200); // the last good config keeps serving

    rmSync(cfg.path('keys.yaml'), { recursive: true });
    const after = newKey();
    cfg.write('keys.yaml', keysWith(cfg, original, after, 'after'));
    await waitFor(async () => (await status(kg, after.key)) === 200, 5_000);
    expect((await kg.app.reload('signal')).result).not.toBe('failure');
  });

  it("the CLI's loader reports a FIFO keys file as an error naming it, without blocking", () => {
    const cfg = tempConfig('http://127.0.0.1:9');
    try {
      rmSync(cfg.path('keys.yaml'));
      execFileSync('mkfifo', [cfg.path('keys.yaml')]);
      const result = loadConfig(cfg.mainFile);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors).toContainEqual(
        expect.objectContaining({ file: cfg.path('keys.yaml'), message: expect.stringContaining('not a regular file (a FIFO)') }),
      );
    } finally {
      cfg.cleanup();
    }
  });
});
