/**
 * The HTTP API (Hono): run catalog checks by name and read their history.
 * The same app is the Worker's `fetch` and `dq serve` on Node. It never accepts
 * SQL: only names of checks in the deployed catalog.
 *
 * @example
 * ```ts
 * const app = createApp(async () => ({ catalog, token, withDatabase }))
 * await app.request('/checks', { headers: { Authorization: `Bearer ${token}` } })
 * ```
 */
import { type Context, Hono } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import { databaseLabel } from '../alerts/config/index.ts'
import { type NotifyOptions, notifyRun, notifySummary } from '../alerts/notify/index.ts'
import { monitorStatus } from '../alerts/store/index.ts'
import type { Catalog } from '../checks/catalog.ts'
import { expandCatalog } from '../checks/generate.ts'
import { type RunOptions, runChecks, runResultOf, unrecordedReason } from '../checks/run-checks.ts'
import { type Selection, selectChecks } from '../checks/select-checks.ts'
import { checkHistory, latestResults } from '../checks/store.ts'
import { DATABASE_UNAVAILABLE, DqError, type ErrorCode } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { redactSecrets } from '../kernel/redact.ts'
import { statusPages } from '../status/index.ts'
import type { AccessSettings } from '../status/session.ts'
import { echo, errorBody, jsonBody, limitBody } from './json-body.ts'

/** What callers are told instead of internals (hosts, ports, SQL), which go to the logs. */
const INTERNAL: Partial<Record<ErrorCode, string>> = {
  unavailable: DATABASE_UNAVAILABLE,
  connection_lost: 'the database connection was lost (see the service logs); try again',
  database: 'the database reported an error (see the service logs)',
  internal: 'internal error (see the service logs)',
}

/** Errors whose details are the caller's own input or results, never internals. */
const SHOWN_DETAILS = new Set<ErrorCode>(['unknown_check', 'not_recorded'])

/** What a request needs, resolved per request (Worker bindings) or once (Node). */
export type Services = {
  catalog: Catalog
  /** DQ_API_TOKEN: every route but /health requires `Authorization: Bearer <token>`. */
  token: string
  /** Opens the database for the duration of `use`, then releases it. */
  withDatabase<T>(use: (port: DatabasePort) => Promise<T>): Promise<T>
  /**
   * Slack alerts, for runs with `"notify": true`: webhooks (undefined when
   * SLACK_WEBHOOK_URL is not set), DQ_DATABASE_LABEL, and for tests fetch, clock, sleep.
   */
  alerts?: AlertServices
  /** Cloudflare Access for the status page, when CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD are set. */
  access?: AccessSettings | undefined
}

export type AlertServices = Omit<NotifyOptions, 'heartbeat' | 'databaseLabel'> & {
  databaseLabel?: string | undefined
  /** Why the Slack settings are unusable (alerts off); said when a request asks to notify. */
  configProblem?: string
}

type Env = { Variables: { services: Services } }

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_catalog: 500,
  invalid_input: 400,
  unknown_check: 404,
  database: 500,
  unavailable: 503,
  connection_lost: 503,
  timeout: 504,
  not_migrated: 500,
  check_running: 409,
  privileged_login: 500,
  not_recorded: 500,
  // A result's code only (a fanned-out check whose queue message was given up on).
  never_ran: 500,
  config: 500,
  internal: 500,
}

const RunOneBody = z.strictObject({ notify: z.boolean().default(false) })
const names = z.array(z.string().min(1).max(200)).max(1000)
const RunManyBody = z.strictObject({
  checks: names.optional(),
  tags: names.optional(),
  notify: z.boolean().default(false),
})
const HistoryBody = z.strictObject({
  check: z.string().min(1).max(200),
  limit: z.number().int().min(1).max(1000).default(20),
})

export function createApp(resolveServices: (c: Context) => Services | Promise<Services>) {
  const app = new Hono<Env>()

  // Liveness: no secrets, no database call. `?deep=1` goes on, past auth, to the monitor's staleness.
  app.get('/health', async (c, next) => {
    if (!['1', 'true'].includes(c.req.query('deep') ?? '')) {
      return c.json({ status: 'ok', service: 'dq-monitor' })
    }
    await next()
  })

  // Configuration first (a missing secret is a clear 500, never a crash), then auth.
  app.use('*', async (c, next) => {
    c.set('services', await resolveServices(c))
    await next()
  })
  // The status page (HTML, status/): signed in with its own session cookie, so it comes
  // before the bearer check, which covers the JSON routes below.
  app.route('/', statusPages())
  app.use('*', (c, next) =>
    bearerAuth({
      token: c.var.services.token,
      noAuthenticationHeader: {
        message: errorBody('unauthorized', 'send Authorization: Bearer <DQ_API_TOKEN>'),
      },
      invalidAuthenticationHeader: {
        message: errorBody('bad_request', 'the Authorization header must be "Bearer <token>"'),
      },
      invalidToken: { message: errorBody('unauthorized', 'the bearer token is not valid') },
    })(c as unknown as Context, next),
  )

  // Deep health (authenticated: it reads the database): stale when two ticks of the
  // cron in a row passed with no run; 503 then, so an uptime check can page.
  app.get('/health', async (c) => {
    const monitor = await c.var.services.withDatabase((port) => monitorStatus(port))
    const body = {
      status: monitor.stale ? 'stale' : 'ok',
      service: 'dq-monitor',
      monitor: {
        last_beat_at: monitor.last_beat_at,
        interval_seconds: monitor.interval_seconds,
        age_seconds: monitor.age_seconds,
        stale: monitor.stale,
        ...(monitor.last_beat_at === null
          ? { note: 'no scheduled run has recorded a heartbeat yet' }
          : {}),
      },
    }
    return c.json(body, monitor.stale ? 503 : 200)
  })

  app.get('/checks', async (c) => {
    const { withDatabase } = c.var.services
    const { checks, latest } = await withDatabase(async (port) => {
      const { checks } = await expandCatalog(port, c.var.services.catalog)
      const names = checks.map((check) => check.name)
      return { checks, latest: await latestResults(port, names) }
    })
    return c.json({
      checks: checks.map((check) => ({
        name: check.name,
        kind: check.kind,
        severity: check.severity,
        tags: check.tags,
        enabled: check.enabled,
        ...(check.generated ? { generated: check.generated } : {}),
        last: latest[check.name] ?? null,
      })),
    })
  })

  app.post('/checks/:name/run', limitBody, jsonBody(RunOneBody, { emptyIs: {} }), async (c) => {
    const { notify } = c.req.valid('json')
    return c.json(
      await runAndNotify(
        c.var.services,
        { names: [c.req.param('name')] },
        { trigger: 'http', singleFlight: 'reject' },
        notify,
      ),
    )
  })

  app.post('/runs', limitBody, jsonBody(RunManyBody, { emptyIs: {} }), async (c) => {
    const body = c.req.valid('json')
    const selection = { names: body.checks ?? [], tags: body.tags ?? [] }
    return c.json(await runAndNotify(c.var.services, selection, { trigger: 'http' }, body.notify))
  })

  app.post('/history', limitBody, jsonBody(HistoryBody), async (c) => {
    const { catalog, withDatabase } = c.var.services
    const { check, limit } = c.req.valid('json')
    const results = await withDatabase(async (port) => {
      // A check that left the catalog keeps its history; 404 only for a name neither knows.
      const history = await checkHistory(port, check, limit)
      if (history.length === 0) selectChecks(await expandCatalog(port, catalog), { names: [check] })
      return history
    })
    return c.json({ check, results })
  })

  app.notFound((c) =>
    c.json(errorBody('not_found', `no route ${c.req.method} ${echo(c.req.path)}`), 404),
  )

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      if (error.res) return error.getResponse()
      return c.json(errorBody('bad_request', echo(error.message)), error.status)
    }
    if (error instanceof DqError) {
      const status = STATUS[error.code]
      // Server-side problems are logged in full (secrets scrubbed) but answered without internals.
      if (status >= 500) console.error(`dq-monitor: ${error.code}: ${redactSecrets(error.message)}`)
      const message = INTERNAL[error.code] ?? error.message
      const details = SHOWN_DETAILS.has(error.code) ? error.details : undefined
      return c.json(errorBody(error.code, message, details), status)
    }
    console.error(
      `dq-monitor: unexpected error: ${redactSecrets(String((error as Error)?.stack ?? error))}`,
    )
    return c.json(errorBody('internal', 'internal error (see the service logs)'), 500)
  })

  return app
}

/**
 * Runs the checks and, when asked, the notify step (alerts/notify) on the same
 * connection. Slack problems never fail the request: they are in "notify".
 */
async function runAndNotify(
  services: Services,
  selection: Selection,
  options: RunOptions,
  notify: boolean,
) {
  const webhooks = services.alerts?.webhooks
  if (notify && !webhooks) {
    throw new DqError(
      'config',
      services.alerts?.configProblem ??
        '"notify": true needs Slack: set SLACK_WEBHOOK_URL (wrangler secret put SLACK_WEBHOOK_URL)',
    )
  }
  return services.withDatabase(async (port) => {
    const catalog = await expandCatalog(port, services.catalog)
    const checks = selectChecks(catalog, selection)
    if (checks.length === 0) {
      throw new DqError('unknown_check', 'no enabled check to run: the catalog has none')
    }
    const whole = !selection.names?.length && !selection.tags?.length
    const run = await runChecks(port, checks, options)
    if (!run.recorded) {
      // The checks ran, but history and alerts did not see them: an error, with the results.
      const { shown, logged } = unrecordedReason(run)
      if (logged) console.error(`dq-monitor: run ${run.run_id} was not recorded: ${logged}`)
      throw new DqError(
        'not_recorded',
        `the checks ran but their results were NOT recorded in history (and no alert was decided): ${shown}`,
        { run: runResultOf(run) },
      )
    }
    if (!notify || !services.alerts) return runResultOf(run)
    const { databaseLabel: label, configProblem: _problem, ...alerts } = services.alerts
    const notified = await notifyRun(port, run, checks, {
      ...alerts,
      databaseLabel: databaseLabel(port.label, label),
      ...(whole ? { catalogChecks: catalog.checks } : {}),
    })
    for (const problem of notified.problems) console.error(`dq-monitor: ${problem}`)
    return { ...runResultOf(run), notify: notifySummary(notified) }
  })
}
