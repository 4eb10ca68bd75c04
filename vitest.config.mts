import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.wrangler/**'],
    // PGlite takes seconds to start and each file seeds its own database.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2 cores: one PGlite per worker is plenty.
    maxWorkers: 2,
  },
})
