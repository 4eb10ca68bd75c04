/**
 * The status page: server-rendered HTML (hono/jsx) under `/` of the same Hono
 * app as the JSON API (functions/app.ts mounts it before its bearer check).
 * Signed in with a session cookie from `POST /login`, or by Cloudflare Access
 * (status/session.ts); never with the bearer header. Signed-out requests are
 * redirected to the sign-in page. No script: every page works with
 * JavaScript off, and every POST is a form with the session's CSRF token.
 *
 * | route | page |
 * | --- | --- |
 * | `GET /` | overview (`?status=`, `?tag=`, `?owner=` filter it) |
 * | `GET /check/:name`, `POST /check/:name/run` | a check's page; run it now |
 * | `GET /coverage` | coverage by workflow |
 * | `GET /login`, `POST /login`, `POST /logout` | sign in and out |
 * | `GET /status.css`, `GET /favicon.svg` | the stylesheet and the icon (public) |
 *
 * @example
 * ```ts
 * app.use('*', services)          // c.var.services: catalog, token, withDatabase, access?
 * app.route('/', statusPages())   // before the JSON API's bearer middleware
 * ```
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { JSX } from 'hono/jsx/jsx-runtime'
import { secureHeaders } from 'hono/secure-headers'
import type { Catalog } from '../checks/catalog.ts'
import { CheckNameSchema } from '../checks/fields.ts'
import { expandCatalog } from '../checks/generate.ts'
import { runChecks, unrecordedReason } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { codeOf, DqError, messageOf } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { redactSecrets } from '../kernel/redact.ts'
import { CheckPage, type RunNotice, retiredCheck } from './pages/check.tsx'
import { CoveragePage } from './pages/coverage.tsx'
import { ErrorPage } from './pages/error.tsx'
import { LoginPage } from './pages/login.tsx'
import { OverviewPage } from './pages/overview.tsx'
import {
  type AccessSettings,
  csrfMatches,
  endSession,
  type SessionSettings,
  sameOrigin,
  startSession,
  tokenMatches,
  type Viewer,
  viewerOf,
} from './session.ts'
import { checkData, coverageData, expandedWith, overviewData } from './store.ts'
import { FAVICON, STYLESHEET } from './style.ts'
import { filtersOf, safeNext } from './view.ts'

/** What the pages need from the app's services (functions/app.ts `Services`). */
export type StatusServices = {
  catalog: Catalog
  token: string
  withDatabase<T>(use: (port: DatabasePort) => Promise<T>): Promise<T>
  /** Cloudflare Access, when CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD are set. */
  access?: AccessSettings | undefined
}

type Env = { Variables: { services: StatusServices; viewer: Viewer } }

const settingsOf = (c: Context<Env>): SessionSettings => ({
  token: c.var.services.token,
  access: c.var.services.access,
})

// Pages carry CSRF tokens and data: never cached, never framed, nothing but our own stylesheet and icon.
const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  referrerPolicy: 'no-referrer',
  crossOriginEmbedderPolicy: false,
})
const noStore: MiddlewareHandler = async (c, next) => {
  await next()
  c.header('Cache-Control', 'no-store')
}

const page = (c: Context, element: JSX.Element, status: 200 | 401 | 403 | 404 | 500 | 503 = 200) =>
  c.html(element, status)

/** Signed in (cookie or Cloudflare Access), else to the sign-in page and back here after. */
const signedIn: MiddlewareHandler<Env> = async (c, next) => {
  const viewer = await viewerOf(c, settingsOf(c))
  if (!viewer) {
    const url = new URL(c.req.url)
    const back = c.req.method === 'GET' ? `${url.pathname}${url.search}` : '/'
    return c.redirect(back === '/' ? '/login' : `/login?next=${encodeURIComponent(back)}`, 303)
  }
  c.set('viewer', viewer)
  await next()
}

const formRefused = (c: Context, message: string) =>
  page(
    c,
    ErrorPage({
      title: 'Form refused',
      message,
      back: { href: '/', text: 'Back to the overview' },
    }),
    403,
  )

/** The POST comes from a page of this site (Origin / Sec-Fetch-Site). */
const fromThisSite = sameOrigin((c) =>
  formRefused(c, 'This form was sent from another site, so it was refused. Use the page itself.'),
)

/** The form carries the session's CSRF token. */
const csrfToken: MiddlewareHandler<Env> = async (c, next) => {
  if (!(await csrfMatches(c, c.var.viewer))) {
    return formRefused(
      c,
      'The form has no valid security token (it may be from an older session): reload the page and try again.',
    )
  }
  await next()
}

function checkOf(catalog: Catalog, name: string) {
  const [check] = selectChecks(catalog, { names: [name] }) // unknown_check (404) otherwise
  if (!check) throw new DqError('unknown_check', `no check named "${name}" in the catalog`)
  return check
}

export function statusPages() {
  const pages = new Hono<Env>()

  pages.get('/status.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8')
    c.header('Cache-Control', c.req.query('v') ? 'public, max-age=31536000, immutable' : 'no-cache')
    return c.body(STYLESHEET)
  })
  pages.get('/favicon.svg', (c) => {
    c.header('Content-Type', 'image/svg+xml')
    c.header('Cache-Control', 'public, max-age=86400')
    return c.body(FAVICON)
  })

  pages.get('/login', pageHeaders, noStore, async (c) => {
    const next = safeNext(c.req.query('next'))
    if (await viewerOf(c, settingsOf(c))) return c.redirect(next, 303)
    return page(
      c,
      LoginPage({
        next,
        signedOut: c.req.query('signed_out') === '1',
        access: Boolean(c.var.services.access),
      }),
    )
  })

  pages.post('/login', pageHeaders, noStore, fromThisSite, async (c) => {
    const body = await c.req.parseBody()
    const given = typeof body.token === 'string' ? body.token.trim() : ''
    const next = safeNext(typeof body.next === 'string' ? body.next : undefined)
    if (!(await tokenMatches(given, c.var.services.token))) {
      const problem = given
        ? 'That is not the API token of this deployment.'
        : 'Enter the API token.'
      return page(c, LoginPage({ next, problem, access: Boolean(c.var.services.access) }), 401)
    }
    await startSession(c, c.var.services.token)
    return c.redirect(next, 303)
  })

  pages.post('/logout', pageHeaders, noStore, fromThisSite, signedIn, csrfToken, (c) => {
    endSession(c)
    return c.redirect('/login?signed_out=1', 303)
  })

  // Each page is one database call: the catalog's generators go into it, and their
  // expansions come back with the page's data (generated checks' history included).
  pages.get('/', pageHeaders, noStore, signedIn, async (c) => {
    const { catalog } = c.var.services
    const names = catalog.checks.map((check) => check.name)
    const data = await c.var.services.withDatabase((port) =>
      overviewData(port, names, catalog.generators),
    )
    const { checks } = await expandedWith(catalog, data.generated)
    return page(
      c,
      OverviewPage({
        checks,
        data,
        filters: filtersOf(c.req.query()),
        viewer: c.var.viewer,
      }),
    )
  })

  pages.get('/coverage', pageHeaders, noStore, signedIn, async (c) => {
    const { catalog } = c.var.services
    const coverage = (check: { kind?: unknown }) => check.kind === 'coverage_gap'
    const names = catalog.checks.filter(coverage).map((check) => check.name)
    // The generators of coverage_gap checks only (a template's kind is never a placeholder).
    const generators = catalog.generators.filter((entry) => coverage(entry.generate.check))
    const data = await c.var.services.withDatabase((port) => coverageData(port, names, generators))
    // Every catalog check stays in: a generated name that is already one is an error.
    const expanded = await expandedWith({ ...catalog, generators }, data.generated)
    const checks = expanded.checks.filter(coverage)
    return page(c, CoveragePage({ checks, data, viewer: c.var.viewer }))
  })

  pages.get('/check/:name', pageHeaders, noStore, signedIn, async (c) => {
    const name = c.req.param('name')
    const ran = c.req.query('ran')
    const notice: RunNotice | undefined =
      c.req.query('busy') === '1' ? { kind: 'busy' } : ran ? { kind: 'ran', runId: ran } : undefined
    return renderCheck(c, name, notice)
  })

  // Run now: post/redirect/get, so a reload never runs it twice.
  pages.post(
    '/check/:name/run',
    pageHeaders,
    noStore,
    fromThisSite,
    signedIn,
    csrfToken,
    async (c) => {
      const { catalog, withDatabase } = c.var.services
      const name = c.req.param('name')
      const path = `/check/${encodeURIComponent(name)}`
      try {
        const run = await withDatabase(async (port) => {
          const check = checkOf(await expandCatalog(port, catalog), name)
          return runChecks(port, [check], { trigger: 'http', singleFlight: 'reject' })
        })
        if (!run.recorded) {
          const { shown, logged } = unrecordedReason(run)
          if (logged) console.error(`dq-monitor: run ${run.run_id} was not recorded: ${logged}`)
          const [result] = run.results
          const notice: RunNotice = {
            kind: 'unrecorded',
            result: result && {
              ...result,
              run_id: run.run_id,
              trigger: run.trigger,
              started_at: run.started_at,
            },
            problem: shown,
          }
          return renderCheck(c, name, notice)
        }
        return c.redirect(`${path}?ran=${encodeURIComponent(run.run_id)}`, 303)
      } catch (error) {
        if (codeOf(error) === 'check_running') return c.redirect(`${path}?busy=1`, 303)
        throw error
      }
    },
  )

  pages.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse()
    const viewer = c.get('viewer') as Viewer | undefined
    if (error instanceof DqError && error.code === 'unknown_check') {
      return page(c, ErrorPage({ title: 'No such check', message: error.message, viewer }), 404)
    }
    const unavailable = ['unavailable', 'connection_lost'].includes(codeOf(error) ?? '')
    if (error instanceof DqError)
      console.error(`dq-monitor: status page: ${error.code}: ${redactSecrets(error.message)}`)
    else console.error('dq-monitor: status page: unexpected error', error)
    return page(
      c,
      ErrorPage({
        title: 'The status page could not load',
        // Hosts, ports and SQL stay in the logs, as in the JSON API.
        message: unavailable
          ? 'The database is unavailable (the service logs have the details); try again later.'
          : error instanceof DqError && !['database', 'internal'].includes(error.code)
            ? messageOf(error)
            : 'Internal error (the service logs have the details).',
        viewer,
      }),
      unavailable ? 503 : 500,
    )
  })

  return pages
}

async function renderCheck(c: Context<Env>, name: string, notice: RunNotice | undefined) {
  const { catalog, withDatabase } = c.var.services
  // Not a check's name: no catalog check nor generated one has it (generated names are normalised).
  if (!CheckNameSchema.safeParse(name).success) checkOf(catalog, name) // unknown_check: 404
  const data = await withDatabase((port) => checkData(port, name, catalog.generators))
  const expanded = await expandedWith(catalog, data.generated)
  const known = expanded.checks.find((check) => check.name === name)
  // Gone from the catalog: its history still has a page, without Run now.
  const check = known ?? (data.latest ? retiredCheck(name, data.latest) : checkOf(expanded, name))
  return page(
    c,
    CheckPage({ check, data, viewer: c.var.viewer, notice, origin: new URL(c.req.url).origin }),
  )
}
