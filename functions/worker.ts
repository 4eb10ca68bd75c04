/**
 * The Cloudflare Worker: `fetch` serves the HTTP API, `scheduled` runs the
 * checks due at each cron tick and records them (trigger "cron"). With a
 * DQ_QUEUE binding the tick fans its checks out over that Queue instead, and
 * `queue` consumes them (checks/fan-out; README "Fan-out on Queues").
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
import { recordHeartbeat } from '../alerts/heartbeat/index.ts'
import { type NotifyOptions, notifyRun } from '../alerts/notify/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { countsSettle, settleCounts } from '../checks/counts-settle.ts'
import { tickOf } from '../checks/cron.ts'
import {
  consumeBatch,
  type FanOutStart,
  type FinishedTick,
  fanOutSettings,
  type PartBatch,
  startFanOut,
} from '../checks/fan-out/index.ts'
import { expandCatalog } from '../checks/generate.ts'
import { runChecks } from '../checks/run-checks.ts'
import { dueChecks } from '../checks/schedule.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { allowPrivilegedLogin, chooseDatabase, type DatabaseEnv } from '../db/open-database.ts'
import { SupabaseDatabase } from '../db/supabase.ts'
import { DqError } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { accessSettings } from '../status/session.ts'
import { createApp, type Services } from './app.ts'
import { ApiTokenSchema } from './token.ts'

const catalog = parseCatalog(catalogInput, 'the bundled catalog (wrangler.toml alias "dq-catalog")')

/**
 * The Worker's bindings, validated on every invocation: a bad one is a clear
 * error, not a crash loop. Which database they select is db/open-database.ts's
 * business (HYPERDRIVE, then DQ_DATABASE_URL, then SUPABASE_*).
 */
const BindingsSchema = z
  .object({
    DQ_API_TOKEN: ApiTokenSchema,
    DQ_DATABASE_URL: z.string().optional(),
    HYPERDRIVE: z.object({ connectionString: z.string() }).optional(),
    SUPABASE_URL: z.string().optional(),
    SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
    DQ_ALLOW_PRIVILEGED_LOGIN: z.string().optional(),
    // The status page behind Cloudflare Access (optional; both or neither).
    CF_ACCESS_TEAM_DOMAIN: z.string().optional(),
    CF_ACCESS_AUD: z.string().optional(),
    // Slack's settings are read apart (alertSettings): a bad one turns alerts off, not the monitor.
  })
  .superRefine((env, ctx) => {
    for (const [path, check] of [
      ['database', () => chooseDatabase({ env })],
      ['access', () => accessSettings(env)],
    ] as const) {
      try {
        check()
      } catch (error) {
        // Their messages name the setting, never echo a secret.
        ctx.addIssue({ code: 'custom', path: [path], message: (error as Error).message })
      }
    }
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

/**
 * The adapter the bindings select (never PGlite: it is not in the Worker's
 * bundle); `max` connections (a queue consumer's connection budget).
 */
function connect(bindings: Bindings, max = 2): DatabasePort {
  const choice = chooseDatabase({ env: bindings as DatabaseEnv })
  switch (choice.adapter) {
    case 'postgres':
      // Hyperdrive's query cache must be off for a monitor (wrangler.toml), or
      // checks read stale figures. node-postgres prepares no named statements.
      return PgDatabase.connect(choice.url, {
        max,
        allowPrivilegedLogin: allowPrivilegedLogin(bindings as DatabaseEnv),
      })
    case 'supabase':
      return SupabaseDatabase.connect(choice.url, choice.key)
    case 'pglite':
      throw new DqError('config', 'DQ_DATABASE_URL: pglite: databases cannot be used in a Worker')
  }
}

// A connection per invocation (Hyperdrive pools behind it), closed when it is done.
async function withDatabase<T>(
  bindings: Bindings,
  use: (port: DatabasePort) => Promise<T>,
  max?: number,
): Promise<T> {
  const port = connect(bindings, max)
  try {
    return await use(port)
  } finally {
    await port.close().catch(() => {})
  }
}

const app = createApp((c): Services => {
  const bindings = config(c.env)
  const slack = alertSettings(c.env)
  return {
    catalog,
    token: bindings.DQ_API_TOKEN,
    withDatabase: (use) => withDatabase(bindings, use),
    access: accessSettings(bindings),
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
 * With a DQ_QUEUE binding the checks are sent to the queue instead
 * (`fanOut`), and the consumer that records the last one notifies.
 */
async function runScheduled(
  controller: ScheduledController,
  env: unknown,
  deps: ScheduledDeps = {},
) {
  const bindings = config(env)
  const fanOut = fanOutSettings(env)
  const settle = countsSettle(env)
  const slack = alertSettings(env)
  if (slack.problem) console.error(`dq-monitor: ${slack.problem}`)
  const at = tickOf(controller.cron, new Date(controller.scheduledTime))
  return withDatabase(bindings, async (port) => {
    const expanded = await expandCatalog(port, catalog)
    const checks = dueChecks(expanded.checks, at)
    if (checks.length === 0) {
      // Says in the logs why a tick did nothing (its cron matches no check's schedule),
      // and leaves the heartbeat: a quiet tick is not an outage.
      console.log(`dq-monitor: no check is due at ${at.toISOString()} (cron "${controller.cron}")`)
      const beat = await recordHeartbeat(port, { cron: controller.cron, at })
      for (const problem of beat.problems) console.error(`dq-monitor: ${problem}`)
      return undefined
    }
    // Unchanged answers read PostgreSQL's change counters, which sessions publish up to
    // 60 s late: read them 61 s after the tick, every write committed before it counts.
    await settleCounts(at, settle)
    // The tick's time alone: two triggers firing in the same minute run the same checks.
    const idempotencyKey = `scheduled@${at.toISOString()}`
    if (fanOut.queue) {
      const started: FanOutStart = await startFanOut(port, fanOut.queue, {
        checks,
        catalog: expanded.checks,
        cron: controller.cron,
        at,
        idempotencyKey,
        checksPerMessage: fanOut.checksPerMessage,
      })
      // Every send failed: the tick finished here, with its checks recorded as never ran.
      const notify = started.finished
        ? await notifyTick(port, started.finished, env, deps)
        : undefined
      return { fanOut: started, ...(notify ? { notify } : {}) }
    }
    const run = await runChecks(port, checks, {
      trigger: 'cron',
      // A tick reads only tables that changed since each check's last full scan.
      scan: 'changed',
      idempotencyKey,
      now: () => at,
    })
    const notify = await notifyTick(
      port,
      { run, cron: controller.cron, checks, catalog: expanded.checks },
      env,
      deps,
    )
    return { ...run, notify }
  })
}

/**
 * The alert policy over a tick's results, once: inline when its run is
 * recorded, fanned out when its last check is. Never throws: Slack's problems
 * are logged, and the run is already recorded.
 */
async function notifyTick(
  port: DatabasePort,
  tick: FinishedTick,
  env: unknown,
  deps: ScheduledDeps = {},
) {
  const slack = alertSettings(env)
  // A tick runs every check due; a check gone from the catalog resolves as removed.
  const notify = await notifyRun(port, tick.run, tick.checks, {
    webhooks: slack.webhooks,
    databaseLabel: databaseLabel(port.label, slack.label),
    heartbeat: { cron: tick.cron },
    catalogChecks: tick.catalog,
    ...deps,
  })
  if (notify.skipped) console.log(`dq-monitor: no alerts: ${notify.skipped}`)
  for (const problem of notify.problems) console.error(`dq-monitor: ${problem}`)
  return notify
}

/**
 * A batch of the fan-out queue (or of its dead-letter queue): each message's
 * checks run and are recorded, and the tick's last part runs the alert
 * policy. Messages are acked or retried one by one (checks/fan-out).
 */
async function consumeQueue(batch: PartBatch, env: unknown, deps: ScheduledDeps = {}) {
  const bindings = config(env)
  const fanOut = fanOutSettings(env)
  return withDatabase(
    bindings,
    (port) =>
      consumeBatch(port, batch, {
        deadLetter: batch.queue === fanOut.deadLetterQueue,
        connectionBudget: fanOut.connectionBudget,
        onFinished: async (tick) => {
          await notifyTick(port, tick, env, deps)
        },
      }),
    fanOut.connectionBudget,
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
          if (run && 'fanOut' in run) {
            const { fanOut } = run
            console.log(
              fanOut.duplicate
                ? `dq-monitor: tick already claimed by another delivery: nothing sent`
                : `dq-monitor: run ${fanOut.run_id}: ${fanOut.checks} checks sent to the queue in ${fanOut.sent} message(s)`,
            )
            for (const problem of fanOut.problems) console.error(`dq-monitor: ${problem}`)
          } else if (run?.recordError) {
            // (notifyTick logged the alerts' own outcome.)
            console.error(`dq-monitor: run not recorded: ${run.recordError}`)
          }
          const slack = alertSettings(env)
          if (run && !slack.webhooks && !slack.problem) {
            console.warn('dq-monitor: SLACK_WEBHOOK_URL is not set: alerts are off')
          }
        },
        (error) => console.error(`dq-monitor: scheduled run failed: ${(error as Error).message}`),
      ),
    )
  },
  /**
   * The fan-out queue's consumer and its dead-letter queue's (wrangler.toml
   * [env.queues]). Throws only when the Worker is misconfigured: the batch is
   * then retried as a whole.
   */
  async queue(batch: PartBatch, env: unknown, _ctx: ExecutionContext) {
    try {
      await consumeQueue(batch, env)
    } catch (error) {
      console.error(`dq-monitor: queue ${batch.queue}: batch failed: ${(error as Error).message}`)
      throw error
    }
  },
}
