import { readFileSync } from 'node:fs';

/** What is running, for `keygate version`, the start-up log line and `keygate_build_info`. */
export interface BuildInfo {
  readonly version: string;
  readonly node: string;
  readonly platform: string;
}

/** package.json sits one level above both src/ and dist/, and ships in the package and the image. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const BUILD_INFO: BuildInfo = Object.freeze({
  version: packageVersion(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
});
