import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // PGlite takes seconds to start and each file seeds its own database.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2 cores: one PGlite per worker is plenty.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', '.wrangler/**', 'test/workerd/**'],
        },
      },
      // Every route and the cron path inside the Workers runtime.
      './vitest.workerd.config.mts',
      // The cron path fanned out on Queues (wrangler.toml [env.queues]) inside the Workers runtime.
      './vitest.fan-out.config.mts',
    ],
  },
})
