import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest mtime of the .ts files under `dir`. */
function newestSource(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((m, e) => Math.max(m, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
}

/**
 * keygate runs as users run it, from bin/keygate.js and dist/: rebuild dist/ when any
 * file in src/ is newer. Returns whether it built.
 */
export function buildIfStale(repo: string): boolean {
  const built = join(repo, 'dist/cli/main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource(join(repo, 'src'))) return false;
  execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(repo, 'tsconfig.json')], { stdio: 'inherit' });
  return true;
}
