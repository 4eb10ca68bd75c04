/**
 * The tests that run inside workerd, the Workers runtime, against the real
 * Worker (wrangler.toml, functions/worker.ts) and real PostgreSQL. The global
 * setup (Node) creates and seeds the database; its URL becomes the Worker's
 * DQ_DATABASE_URL binding.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'
import { unstable_readConfig } from 'wrangler'
import { NO_DATABASE_URL, WORKERD_API_TOKEN } from './test/workerd/bindings.ts'
import { WORKER_DEPS } from './test/workerd/prebundle.ts'

// wrangler.toml's [alias] (the bundled catalog) is wrangler's, not Vite's: share it.
const wrangler = unstable_readConfig({ config: './wrangler.toml' })

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          DQ_API_TOKEN: WORKERD_API_TOKEN,
          // Without a server, a URL nothing listens on: the database-free tests still run.
          DQ_DATABASE_URL: inject<string>('workerdDatabaseUrl') || NO_DATABASE_URL,
        },
      },
    })),
  ],
  resolve: { alias: wrangler.alias ?? {} },
  test: {
    name: 'workerd',
    include: ['test/workerd/**/*.test.ts'],
    // Its own project (vitest.fan-out.config.mts): wrangler.toml's [env.queues], 500 checks.
    exclude: ['test/workerd/fan-out/**'],
    globalSetup: ['test/workerd/global-setup.ts'],
    // CommonJS dependencies pre-bundled, as wrangler bundles them.
    deps: WORKER_DEPS,
    // The files share one seeded database: in parallel, their runs of the same
    // check would (rightly) collide on the single-flight lock.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
