import { readFileSync } from 'node:fs';

/** What is running, for `keygate version`, the start-up log line and `keygate_build_info`. */
export interface BuildInfo {
  readonly version: string;
  readonly node: string;
  readonly platform: string;
}

/**
 * package.json sits one level above src/ and dist/ (where tsc puts this module) and two
 * above dist/bundle/ (where the bundle does), and ships in the package and the image.
 */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'keygate') return typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      // not there: the next place
    }
  }
  return 'unknown';
}

export const BUILD_INFO: BuildInfo = Object.freeze({
  version: packageVersion(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
});
