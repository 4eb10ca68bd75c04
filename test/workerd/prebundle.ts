/**
 * How the workerd projects load the Worker's CommonJS dependencies (shared by
 * vitest.workerd.config.mts and vitest.fan-out.config.mts): cron-parser
 * (requiring luxon) and pg (requiring pg-protocol and pg-cloudflare, whose
 * ESM builds Vite would pick) are pre-bundled, so they load as wrangler
 * bundles them. Node's built-ins stay imports: workerd provides them
 * (nodejs_compat).
 */
import { builtinModules } from 'node:module'

export const WORKER_DEPS = {
  optimizer: {
    ssr: {
      enabled: true,
      include: ['cron-parser', 'pg'],
      rolldownOptions: { external: [...builtinModules, /^node:/] },
    },
  },
}
