import { realpathSync } from 'node:fs';
import { dirname, join, relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandFailed } from './io.js';

/** config/ of this package (from src/cli or dist/cli alike): the demo the README and the tests start from. */
export const BUNDLED_EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../config');

/**
 * The bundled example stays pristine: its keys are public demo keys, the tests copy it,
 * and a key command run on it by mistake (as the README's examples once did) broke both.
 * Key commands work on a copy instead.
 */
export function refuseBundledExample(file: string): void {
  if (!inside(real(file), real(BUNDLED_EXAMPLE))) return;
  throw new CommandFailed(
    `${file} belongs to keygate's bundled example, which stays unchanged (its keys are public demo keys). Work on a copy:\n` +
      '  mkdir -p /tmp/keygate-demo && cp -r config/. /tmp/keygate-demo/\n' +
      '  export KEYGATE_CONFIG=/tmp/keygate-demo/keygate.yaml',
  );
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
