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
 * keygate runs as users run it, from bin/keygate.js and dist/ (the bundle): rebuild dist/
 * when any file in src/ is newer. Returns whether it built.
 */
export function buildIfStale(repo: string): boolean {
  // Written last (the build bundles after tsc): missing or older than src/ means a build is due.
  const built = join(repo, 'dist/bundle/entry.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource(join(repo, 'src'))) return false;
  // package.json's own build script, so this builds what `npm run build` and the image build.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
  return true;
}
