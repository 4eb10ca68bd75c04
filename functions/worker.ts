/**
 * The Cloudflare Worker: `fetch` serves the HTTP API, `scheduled` runs the
 * checks due at each cron tick and records them (trigger "cron").
 *
 * The catalog is bundled at deploy time from the module aliased as
 * "dq-catalog" in wrangler.toml (checks/catalog.json unless you point it at
 * your own JSON or TS catalog); an invalid catalog fails at deploy, not at 3 a.m.
 *
 * @example
 * ```sh
 * wrangler secret put DQ_API_TOKEN && wrangler secret put DQ_DATABASE_URL && wrangler deploy
 * ```
 */
import catalogInput from 'dq-catalog'
import { z } from 'zod'
import { parseCatalog } from '../checks/catalog.ts'
import { DqError } from '../checks/errors.ts'
import { runChecks } from '../checks/run-checks.ts'
import { dueChecks, tickOf } from '../checks/schedule.ts'
import type { Database } from '../db/database.ts'
import { PostgresJsDatabase } from '../db/postgres-js.ts'
import { createApp, type Services } from './app.ts'

const catalog = parseCatalog(catalogInput, 'the bundled catalog (wrangler.toml alias "dq-catalog")')

/** The Worker's bindings, validated on every invocation: a bad one is a clear error, not a crash loop. */
const BindingsSchema = z
  .object({
    DQ_API_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters (wrangler secret put DQ_API_TOKEN)'),
    DQ_DATABASE_URL: z
      .string()
      .regex(
        /^postgres(ql)?:\/\//,
        'must be a postgres:// URL (wrangler secret put DQ_DATABASE_URL)',
      )
      // The URL itself is never echoed: it holds the password.
      .refine(
        (url) => URL.canParse(url),
        'is not a valid URL (check the host, port and escaping of the password)',
      )
      .optional(),
    HYPERDRIVE: z.object({ connectionString: z.string() }).optional(),
  })
  .refine((env) => env.DQ_DATABASE_URL || env.HYPERDRIVE, {
    message: 'no database: bind Hyperdrive as HYPERDRIVE or set the DQ_DATABASE_URL secret',
    path: ['DQ_DATABASE_URL'],
  })
type Bindings = z.infer<typeof BindingsSchema>

function config(env: unknown): Bindings {
  const parsed = BindingsSchema.safeParse(env)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`)
    throw new DqError('config', `the Worker is misconfigured: ${problems.join('; ')}`)
  }
  return parsed.data
}

function connect(bindings: Bindings): Database {
  // Hyperdrive pools connections and cannot keep prepared statements; its
  // query cache must be off for a monitor (wrangler.toml), or checks read stale figures.
  if (bindings.HYPERDRIVE) {
    return PostgresJsDatabase.connect(bindings.HYPERDRIVE.connectionString, {
      max: 2,
      prepare: false,
    })
  }
  return PostgresJsDatabase.connect(bindings.DQ_DATABASE_URL as string, { max: 2 })
}

// No db.close(): the Workers runtime closes a request's sockets when it ends,
// and postgres.js's end() leaves an unhandled "Stream was cancelled" rejection
// in workerd on every close (porsager/postgres#1202; Cloudflare's Hyperdrive
// examples dropped sql.end() for the same reason).
async function withDatabase<T>(bindings: Bindings, use: (db: Database) => Promise<T>): Promise<T> {
  return use(connect(bindings))
}

const app = createApp((c): Services => {
  const bindings = config(c.env)
  return {
    catalog,
    token: bindings.DQ_API_TOKEN,
    withDatabase: (use) => withDatabase(bindings, use),
  }
})

/** Runs the checks due at this tick; a tick delivered twice records one run. */
export async function runScheduled(controller: ScheduledController, env: unknown) {
  const bindings = config(env)
  const at = tickOf(controller.cron, new Date(controller.scheduledTime))
  const checks = dueChecks(catalog.checks, at)
  if (checks.length === 0) {
    // Says in the logs why a tick did nothing (its cron matches no check's schedule).
    console.log(`dq-monitor: no check is due at ${at.toISOString()} (cron "${controller.cron}")`)
    return undefined
  }
  return withDatabase(bindings, (db) =>
    runChecks(db, checks, {
      trigger: 'cron',
      idempotencyKey: `${controller.cron}@${at.toISOString()}`,
      now: () => at,
    }),
  )
}

// The two runtime shapes this file uses (the full set comes from `wrangler types`).
type ScheduledController = { cron: string; scheduledTime: number }
type ExecutionContext = { waitUntil(promise: Promise<unknown>): void }

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: unknown, ctx: ExecutionContext) {
    ctx.waitUntil(
      runScheduled(controller, env).then(
        (run) => {
          if (run?.recordError) console.error(`dq-monitor: run not recorded: ${run.recordError}`)
        },
        (error) => console.error(`dq-monitor: scheduled run failed: ${(error as Error).message}`),
      ),
    )
  },
}
