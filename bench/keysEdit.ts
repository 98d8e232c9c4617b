import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeLargeKeysFile } from './largeKeysFile.js';

/*
 * `keygate key` commands on a big keys file: wall time and peak RSS of each command, as an
 * operator runs it (a fresh process of the built CLI, dist/). The example config with N
 * generated keys in the first keys file, so every command edits that file.
 *
 *   npm run bench:keys-edit -- [count]      (default 100,000)
 */

const REPO = resolve(import.meta.dirname, '..');
const count = Number(process.argv[2] ?? 100_000);
const MAIN = pathToFileURL(join(REPO, 'dist/cli/main.js')).href;
// Runs one command in this process and reports its own peak RSS (a parent cannot read a child's).
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)});
const code = await main(process.argv.slice(1));
process.stderr.write('\\n' + JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }) + '\\n');
process.exitCode = code;`;

interface Row {
  command: string;
  seconds: number;
  peakRssMiB: number;
}

const dir = mkdtempSync(join(tmpdir(), 'keygate-keys-edit-'));
try {
  cpSync(join(REPO, 'config'), dir, { recursive: true });
  const ids = writeLargeKeysFile(join(dir, 'large-keys.yaml'), count);
  const mainFile = join(dir, 'keygate.yaml');
  writeFileSync(mainFile, readFileSync(mainFile, 'utf8').replace('keys: [./keys.yaml]', 'keys: [./large-keys.yaml, ./keys.yaml]'));
  const id = ids[Math.floor(ids.length / 2)];
  const commands = [
    ['key', 'list', '--user', 'alice'],
    ['key', 'create', '--user', 'joe', '--name', 'bench', '--read-only'],
    ['key', 'revoke', id],
    ['key', 'update', id, '--comment', 'benchmarked'],
    ['key', 'rotate', id, '--grace', '1h'],
    ['key', 'delete', id],
  ];
  const rows: Row[] = [];
  for (const argv of commands) {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER, ...argv, '-c', mainFile, '--json'], {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const seconds = (performance.now() - t0) / 1000;
    const report = run.stderr.trim().split('\n').at(-1) ?? '';
    if (run.status !== 0 || !report.startsWith('{')) throw new Error(`${argv.join(' ')} failed (${run.status}): ${run.stderr.slice(-500)}`);
    const { maxRssKiB } = JSON.parse(report) as { maxRssKiB: number };
    rows.push({ command: `keygate ${argv.slice(0, 2).join(' ')}`, seconds: +seconds.toFixed(2), peakRssMiB: Math.round(maxRssKiB / 1024) });
  }
  console.log(`${count.toLocaleString('en-US')} keys in the edited file\n`);
  console.log(['command'.padEnd(22), 'seconds'.padStart(8), 'peak RSS MiB'.padStart(13)].join('  '));
  for (const r of rows) console.log([r.command.padEnd(22), r.seconds.toFixed(2).padStart(8), String(r.peakRssMiB).padStart(13)].join('  '));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
