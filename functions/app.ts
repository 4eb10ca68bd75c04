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
import { zValidator } from '@hono/zod-validator'
import { type Context, Hono } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import type { Catalog } from '../checks/catalog.ts'
import { DqError, type ErrorBody, type ErrorCode } from '../checks/errors.ts'
import { runChecks, runResultOf } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import type { Database } from '../db/database.ts'

/** What a request needs, resolved per request (Worker bindings) or once (Node). */
export type Services = {
  catalog: Catalog
  /** DQ_API_TOKEN: every route but /health requires `Authorization: Bearer <token>`. */
  token: string
  /** Opens the database for the duration of `use`, then releases it. */
  withDatabase<T>(use: (db: Database) => Promise<T>): Promise<T>
}

type Env = { Variables: { services: Services } }

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_catalog: 500,
  invalid_input: 400,
  unknown_check: 404,
  database: 500,
  timeout: 504,
  not_migrated: 500,
  check_running: 409,
  config: 500,
  internal: 500,
}

const errorBody = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: { code, message, ...(details === undefined ? {} : { details }) },
})

const RunOneBody = z.strictObject({ notify: z.boolean().default(false) })
const RunManyBody = z.strictObject({
  checks: z.array(z.string().min(1)).optional(),
  tags: z.array(z.string().min(1)).optional(),
  notify: z.boolean().default(false),
})
const HistoryBody = z.strictObject({
  check: z.string().min(1),
  limit: z.number().int().min(1).max(1000).default(20),
})

/** zod failures answer 400 in the API's error shape, with zod's issues. */
const json = <T extends z.ZodType>(schema: T) =>
  zValidator('json', schema, (result, c) => {
    if (!result.success) {
      return c.json(
        errorBody(
          'invalid_input',
          'the request body is not valid',
          result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        ),
        400,
      )
    }
  })

/** Bodies are optional on the run routes: an empty body means the defaults. */
async function withEmptyBodyAsObject(c: Context, next: () => Promise<void>) {
  const length = c.req.header('content-length')
  if (!c.req.header('content-type') && (length === undefined || length === '0')) {
    c.req.raw = new Request(c.req.raw, {
      body: '{}',
      headers: { ...Object.fromEntries(c.req.raw.headers), 'content-type': 'application/json' },
    })
  }
  await next()
}

export function createApp(resolveServices: (c: Context) => Services | Promise<Services>) {
  const app = new Hono<Env>()

  app.get('/health', (c) => c.json({ status: 'ok', service: 'dq-monitor' }))

  // Configuration first (a missing secret is a clear 500, never a crash), then auth.
  app.use('*', async (c, next) => {
    c.set('services', await resolveServices(c))
    await next()
  })
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

  app.get('/checks', async (c) => {
    const { catalog, withDatabase } = c.var.services
    const latest = await withDatabase((db) => db.latestResults(catalog.checks.map((ch) => ch.name)))
    return c.json({
      checks: catalog.checks.map((check) => ({
        name: check.name,
        kind: check.kind,
        severity: check.severity,
        tags: check.tags,
        enabled: check.enabled,
        last: latest[check.name] ?? null,
      })),
    })
  })

  app.post('/checks/:name/run', withEmptyBodyAsObject, json(RunOneBody), async (c) => {
    const { catalog, withDatabase } = c.var.services
    const checks = selectChecks(catalog, { names: [c.req.param('name')] })
    const run = await withDatabase((db) =>
      runChecks(db, checks, { trigger: 'http', singleFlight: 'reject' }),
    )
    return c.json(runResultOf(run))
  })

  app.post('/runs', withEmptyBodyAsObject, json(RunManyBody), async (c) => {
    const { catalog, withDatabase } = c.var.services
    const body = c.req.valid('json')
    const checks = selectChecks(catalog, { names: body.checks, tags: body.tags })
    const run = await withDatabase((db) => runChecks(db, checks, { trigger: 'http' }))
    return c.json(runResultOf(run))
  })

  app.post('/history', json(HistoryBody), async (c) => {
    const { catalog, withDatabase } = c.var.services
    const { check, limit } = c.req.valid('json')
    selectChecks(catalog, { names: [check] }) // 404 for a name the catalog does not know
    const results = await withDatabase((db) => db.history(check, limit))
    return c.json({ check, results })
  })

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse()
    if (error instanceof DqError) {
      const status = STATUS[error.code]
      // Server-side problems are logged in full but answered without internals.
      if (status >= 500) console.error(`dq-monitor: ${error.code}: ${error.message}`)
      return c.json(errorBody(error.code, error.message), status)
    }
    console.error('dq-monitor: unexpected error', error)
    return c.json(errorBody('internal', 'internal error (see the service logs)'), 500)
  })

  return app
}
