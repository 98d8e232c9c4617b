import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Worker threads and spawned CLIs run dist/: rebuilt first when src/ is newer.
    globalSetup: ['./test/buildDist.ts'],
    reporters: ['default', './test/summaryReporter.ts'],
  },
});
