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
 * wrangler secret put DQ_API_TOKEN
 * wrangler secret put SUPABASE_URL && wrangler secret put SUPABASE_SERVICE_ROLE_KEY  # or DQ_DATABASE_URL
 * wrangler secret put SLACK_WEBHOOK_URL   # optional
 * wrangler deploy
 * ```
 */
import catalogInput from 'dq-catalog'
import { z } from 'zod'
import { alertSettings, databaseLabel } from '../alerts/config/index.ts'
import { type NotifyOptions, notifyRun, recordHeartbeat } from '../alerts/notify/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { DqError } from '../checks/errors.ts'
import { runChecks } from '../checks/run-checks.ts'
import { dueChecks, tickOf } from '../checks/schedule.ts'
import type { Database } from '../db/database.ts'
import { PostgresJsDatabase } from '../db/postgres-js.ts'
import { SupabaseDatabase } from '../db/supabase.ts'
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
    // A Supabase project through its API (db/supabase.ts): both or neither.
    SUPABASE_URL: z
      .string()
      .regex(/^https?:\/\//, 'must be the project URL, https://<ref>.supabase.co')
      .optional(),
    SUPABASE_SERVICE_ROLE_KEY: z
      .string()
      .min(1, 'must not be empty (wrangler secret put SUPABASE_SERVICE_ROLE_KEY)')
      .optional(),
    // Slack's settings are read apart (alertSettings): a bad one turns alerts off, not the monitor.
  })
  .refine((env) => Boolean(env.SUPABASE_URL) === Boolean(env.SUPABASE_SERVICE_ROLE_KEY), {
    message: 'SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY go together: set both secrets',
    path: ['SUPABASE_SERVICE_ROLE_KEY'],
  })
  .refine((env) => env.DQ_DATABASE_URL || env.HYPERDRIVE || env.SUPABASE_URL, {
    message:
      'no database: set the SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY secrets, bind Hyperdrive as HYPERDRIVE, or set the DQ_DATABASE_URL secret',
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
  if (bindings.DQ_DATABASE_URL) {
    return PostgresJsDatabase.connect(bindings.DQ_DATABASE_URL, { max: 2 })
  }
  return SupabaseDatabase.connect(
    bindings.SUPABASE_URL as string,
    bindings.SUPABASE_SERVICE_ROLE_KEY as string,
  )
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
  const slack = alertSettings(c.env)
  return {
    catalog,
    token: bindings.DQ_API_TOKEN,
    withDatabase: (use) => withDatabase(bindings, use),
    alerts: {
      webhooks: slack.webhooks,
      databaseLabel: slack.label,
      ...(slack.problem ? { configProblem: slack.problem } : {}),
    },
  }
})

/** What tests may replace in the cron path's notify step (webhook URLs come from the bindings). */
export type ScheduledDeps = Pick<
  NotifyOptions,
  'fetch' | 'now' | 'sleep' | 'delivery' | 'maxMessages'
>

/**
 * Runs the checks due at this tick, records them (a tick delivered twice
 * records one run), then notifies Slack (alerts/notify) and leaves the
 * monitor's heartbeat. The result carries the notify outcome under `notify`.
 */
export async function runScheduled(
  controller: ScheduledController,
  env: unknown,
  deps: ScheduledDeps = {},
) {
  const bindings = config(env)
  const slack = alertSettings(env)
  if (slack.problem) console.error(`dq-monitor: ${slack.problem}`)
  const at = tickOf(controller.cron, new Date(controller.scheduledTime))
  const checks = dueChecks(catalog.checks, at)
  if (checks.length === 0) {
    // Says in the logs why a tick did nothing (its cron matches no check's schedule),
    // and leaves the heartbeat: a quiet tick is not an outage.
    console.log(`dq-monitor: no check is due at ${at.toISOString()} (cron "${controller.cron}")`)
    const beat = await withDatabase(bindings, (db) =>
      recordHeartbeat(db, { cron: controller.cron, at }),
    )
    for (const problem of beat.problems) console.error(`dq-monitor: ${problem}`)
    return undefined
  }
  return withDatabase(bindings, async (db) => {
    const run = await runChecks(db, checks, {
      trigger: 'cron',
      // The tick's time alone: two triggers firing in the same minute run the same checks.
      idempotencyKey: `scheduled@${at.toISOString()}`,
      now: () => at,
    })
    // Never throws: Slack problems come back in notify.problems, and the run is already recorded.
    const notify = await notifyRun(db, run, checks, {
      webhooks: slack.webhooks,
      databaseLabel: databaseLabel(db.label, slack.label),
      heartbeat: { cron: controller.cron },
      ...deps,
    })
    return { ...run, notify }
  })
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
          if (run?.notify.skipped) console.log(`dq-monitor: no alerts: ${run.notify.skipped}`)
          for (const problem of run?.notify.problems ?? []) console.error(`dq-monitor: ${problem}`)
          if (run && !(env as { SLACK_WEBHOOK_URL?: unknown }).SLACK_WEBHOOK_URL) {
            console.warn('dq-monitor: SLACK_WEBHOOK_URL is not set: alerts are off')
          }
        },
        (error) => console.error(`dq-monitor: scheduled run failed: ${(error as Error).message}`),
      ),
    )
  },
}
