/**
 * The fan-out tests inside workerd: the real Worker under wrangler.toml's
 * [env.queues] (the Queue producer, its consumer and the dead-letter queue's,
 * as deployed with `wrangler deploy --env queues`), with a bundled catalog of
 * 500 checks (test/workerd/fan-out/catalog.ts) and real PostgreSQL. The
 * workerd project (vitest.workerd.config.mts) keeps the default config: no
 * Queue binding, ticks run inline.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'
import { unstable_readConfig } from 'wrangler'
import { NO_DATABASE_URL, WORKERD_API_TOKEN } from './test/workerd/bindings.ts'
import { WORKER_DEPS } from './test/workerd/prebundle.ts'
import './test/workerd/fan-out/bindings.ts'

const wrangler = unstable_readConfig({ config: './wrangler.toml', env: 'queues' })

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const slack = inject('fanOutSlack')
      return {
        wrangler: { configPath: './wrangler.toml', environment: 'queues' },
        miniflare: {
          bindings: {
            DQ_API_TOKEN: WORKERD_API_TOKEN,
            DQ_DATABASE_URL: inject('fanOutDatabaseUrl') || NO_DATABASE_URL,
            // Its last tick is the current hour: no waiting for the change counters to settle.
            DQ_COUNTS_SETTLE_SECONDS: '0',
            ...(slack.slackUrl ? { SLACK_WEBHOOK_URL: slack.slackUrl } : {}),
          },
        },
      }
    }),
  ],
  resolve: {
    alias: {
      ...(wrangler.alias ?? {}),
      // 500 checks instead of the demo's 26.
      'dq-catalog': './test/workerd/fan-out/catalog.ts',
    },
  },
  test: {
    name: 'workerd-fan-out',
    include: ['test/workerd/fan-out/**/*.test.ts'],
    globalSetup: ['test/workerd/fan-out/global-setup.ts'],
    // CommonJS dependencies pre-bundled, as wrangler bundles them.
    deps: WORKER_DEPS,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
