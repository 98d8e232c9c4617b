import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Vitest's default is one worker on a 2-core machine (cores - 1), which left the suite at
    // 212 s on CI; most files wait on child processes and sockets, so two workers take 128 s.
    maxWorkers: 2,
    // Worker threads and spawned CLIs run dist/: rebuilt first when src/ is newer.
    globalSetup: ['./test/buildDist.ts'],
    reporters: ['default', './test/summaryReporter.ts'],
  },
});
