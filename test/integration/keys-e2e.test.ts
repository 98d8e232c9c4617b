import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';
import { waitFor } from '../helpers/keygate.js';
import { appendTopLevel } from '../helpers/mainFile.js';

const run = promisify(execFile);

/** The key lifecycle as an operator lives it: real CLI processes editing the files a running proxy watches. */
describe('key lifecycle through a running proxy', () => {
  const fx = useKeygate({ edit: (main) => appendTopLevel(main, 'reload: { interval: 1s, debounce: 50ms }') });

  const cli = async (...args: string[]): Promise<{ id: string; key: string }> => {
    const { stdout } = await run(process.execPath, [`${REPO}/bin/keygate.js`, 'key', ...args, '-c', fx.cfg.mainFile, '--json']);
    return JSON.parse(stdout) as { id: string; key: string };
  };
  const status = async (key: string): Promise<number> =>
    (await fetch(`${fx.kg.url()}/compute/v2/p1/servers/7`, { headers: { authorization: `Bearer ${key}` } })).status;
  const becomes = (key: string, want: number): Promise<number> =>
    waitFor(
      async () => ((await status(key)) === want ? want : undefined),
      10_000,
      () => `status of key never became ${want}`,
    );

  it('create → works → rotate → old 401, new works → revoke → 401 → delete stays 401', async () => {
    const created = await cli('create', '--user', 'joe', '--name', 'e2e', '--allow', 'compute read /v2/**');
    expect(created.key.startsWith(`kg_${created.id}_`)).toBe(true);
    await becomes(created.key, 200);
    expect(fx.upstream.seen.at(-1)?.headers['x-keygate-key-id']).toBe(created.id);

    const rotated = await cli('rotate', created.id);
    expect(rotated.id).toBe(created.id);
    expect(rotated.key).not.toBe(created.key);
    await becomes(rotated.key, 200);
    expect(await status(created.key)).toBe(401);

    await cli('revoke', created.id);
    await becomes(rotated.key, 401);
    const line = fx.kg
      .logs()
      .filter((l) => l.key_id === created.id && l.status === 401)
      .at(-1);
    expect(line?.reason).toBe('key_disabled');

    await cli('delete', created.id);
    await waitFor(
      async () => {
        await status(rotated.key);
        const last = fx.kg
          .logs()
          .filter((l) => l.msg === 'request' && l.key_id === created.id)
          .at(-1);
        return last?.reason === 'unknown_key' ? true : undefined;
      },
      10_000,
      () => 'deleted key never answered unknown_key',
    );
  });
});
