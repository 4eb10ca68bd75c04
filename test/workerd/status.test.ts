/**
 * The status page inside workerd, through the real Worker (its .tsx pages in
 * wrangler's bundle), against the seeded demo database on real PostgreSQL:
 * sign in, the pages, Run now, and the Cloudflare Access settings.
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../functions/worker.ts'
import { checkRows, csrfIn, formPost, ORIGIN, signIn } from '../support/status.ts'
import { NO_DATABASE_URL, WORKERD_API_TOKEN } from './bindings.ts'

const hasDatabase = inject('workerdDatabaseUrl') !== ''

// Redirects are the answers under test: never followed.
const request = (path: string, init?: RequestInit) =>
  exports.default.fetch(new Request(`${ORIGIN}${path}`, { ...init, redirect: 'manual' }))

function requestWith(bindings: Record<string, unknown>, path: string, init?: RequestInit) {
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} }
  return worker.fetch(new Request(`${ORIGIN}${path}`, init), bindings, ctx as never)
}

describe('the status page in the Worker', () => {
  it('signed out: the sign-in form, rendered by the bundled pages', async () => {
    const home = await request('/')
    expect(home.status).toBe(303)
    expect(home.headers.get('location')).toBe('/login')
    const login = await request('/login')
    expect(login.status).toBe(200)
    expect(await login.text()).toContain('<label for="token">API token</label>')
  })

  it('a wrong token is 401 with no cookie', async () => {
    const response = await request('/login', formPost({ token: 'wrong-token-wrong-token' }))
    expect(response.status).toBe(401)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it.runIf(hasDatabase)('signed in: the overview, a check, Run now', async () => {
    const cookie = await signIn(request, WORKERD_API_TOKEN)
    const overview = await request('/', { headers: { cookie } })
    expect(overview.status).toBe(200)
    expect(checkRows(await overview.text())).toHaveLength(26)
    const page = await (
      await request('/check/breezeway_task_tags_duplicates', { headers: { cookie } })
    ).text()
    const run = await request(
      '/check/breezeway_task_tags_duplicates/run',
      formPost({ csrf: csrfIn(page) }, cookie),
    )
    expect(run.status).toBe(303)
    const after = await request(run.headers.get('location') ?? '', { headers: { cookie } })
    expect(await after.text()).toContain('Ran just now')
  })

  it('Cloudflare Access half configured: a 500 naming the missing setting', async () => {
    const response = await requestWith(
      {
        DQ_API_TOKEN: WORKERD_API_TOKEN,
        DQ_DATABASE_URL: NO_DATABASE_URL,
        CF_ACCESS_AUD: 'aud-tag',
      },
      '/',
    )
    expect(response.status).toBe(500)
    const body = (await response.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('config')
    expect(body.error.message).toContain('CF_ACCESS_TEAM_DOMAIN is not set')
  })
})
