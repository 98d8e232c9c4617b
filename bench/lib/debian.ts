import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** The first of `candidates` (absolute paths or names on PATH) that exists and is executable. */
export function findBinary(...candidates: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const c of candidates) {
    for (const path of c.startsWith('/') ? [c] : dirs.map((d) => `${d}/${c}`)) {
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * The peer's binary, installing its Debian package when it is missing and this process
 * may (root, apt-get present). Debian's policy-rc.d may start the service on install:
 * the bench never uses that instance (it runs its own in a temp dir), so it is stopped.
 * Returns undefined (with the reason in `notes`) when the peer cannot be had.
 */
export function ensureDebianTool(binary: string, pkg: string, notes: string[], install = true): string | undefined {
  const found = findBinary(binary, `/usr/sbin/${binary}`, `/usr/bin/${binary}`);
  if (found) return found;
  if (!install) {
    notes.push(`${binary} is not installed (apt-get install -y ${pkg}): its rows are skipped`);
    return undefined;
  }
  if (process.getuid?.() !== 0 || !findBinary('apt-get')) {
    notes.push(`${binary} is not installed and cannot be installed here (apt-get install -y ${pkg} as root): its rows are skipped`);
    return undefined;
  }
  process.stderr.write(`[bench] installing ${pkg} (Debian) ...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]): boolean => spawnSync('apt-get', args, { env, stdio: 'ignore', timeout: 180_000 }).status === 0;
  const installArgs = ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', pkg];
  const ok = apt(installArgs) || (apt(['update', '-qq', '-o', 'DPkg::Lock::Timeout=120']) && apt(installArgs));
  try {
    execFileSync('service', [pkg.replace(/-light$/, ''), 'stop'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // not running, or no service command
  }
  const after = findBinary(binary, `/usr/sbin/${binary}`, `/usr/bin/${binary}`);
  if (!ok || !after) notes.push(`apt-get install ${pkg} failed: ${binary} rows are skipped`);
  else notes.push(`${pkg} was installed by this run (Debian)`);
  return after;
}
