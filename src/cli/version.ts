import { BUILD_INFO } from '../buildInfo.js';
import { flag, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';

export const versionHelp =
  "keygate version [--json]   keygate's version, the Node.js running it and the platform (also: keygate --version)";

export function runVersion(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, { json: { type: 'boolean' } });
  io.out(
    flag(args, 'json')
      ? JSON.stringify(BUILD_INFO, null, 2)
      : `keygate ${BUILD_INFO.version} (Node.js ${BUILD_INFO.node}, ${BUILD_INFO.platform})`,
  );
  return EXIT.ok;
}
