import { defineConfig } from 'vitest/config';

/** Files that read this process's own threads or CPU ticks: they run in a process of their own. */
const OWN_PROCESS = ['test/unit/reload/workerPriority.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Vitest's default is one worker on a 2-core machine (cores - 1), which left the suite at
    // 212 s on CI; most files wait on child processes and sockets, so two workers take 128 s.
    maxWorkers: 2,
    // Worker threads and spawned CLIs run dist/: rebuilt first when src/ is newer.
    globalSetup: ['./test/buildDist.ts'],
    reporters: ['default', './test/summaryReporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: OWN_PROCESS,
          // A file runs in a worker process that earlier files used, not in a fresh one: each
          // file importing undici, yaml, gRPC and keygate's modules anew kept the suite at
          // 154-180 s on CI; without that it takes 87-100 s (files in order and shuffled
          // alike). So a test must leave process-wide state as it found it: env, cwd, signal
          // listeners, globals; a test that reads the process itself belongs in OWN_PROCESS.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'own process', include: OWN_PROCESS, isolate: true } },
    ],
  },
});
