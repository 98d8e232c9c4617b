// Bundles the compiled entry points (dist/cli/entry.js, the load worker) with their
// dependencies into dist/bundle/: `npm run build` runs it after tsc.
//
// Why: node loads keygate's ~660 modules one file at a time (undici, yaml, gRPC,
// protobuf, JOSE, prom-client...), ~340 ms before `serve` can start; as a few bundled
// files, ~190 ms, and the load worker's ~130 ms of modules ~50 ms (docs/keys-at-scale.md).
// The split points stay: the early config load starts before the commands are imported,
// and the worker imports the loader only after lowering its priority.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(repo, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(repo, 'dist/cli/entry.js'), join(repo, 'dist/reload/worker.js')],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  logLevel: 'warning',
  // Bundled CommonJS packages call require() for node's modules and read __dirname (here
  // dist/bundle/: only code paths keygate does not take read files next to it, such as
  // pino's transports and gRPC's channelz protos).
  banner: {
    js: [
      "import { createRequire as __keygateCreateRequire } from 'node:module';",
      "import { fileURLToPath as __keygateFileURLToPath } from 'node:url';",
      "import { dirname as __keygateDirname } from 'node:path';",
      'const require = __keygateCreateRequire(import.meta.url);',
      'const __filename = __keygateFileURLToPath(import.meta.url);',
      'const __dirname = __keygateDirname(__filename);',
    ].join(' '),
  },
});
