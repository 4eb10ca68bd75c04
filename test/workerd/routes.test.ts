/**
 * Every route of the HTTP API inside workerd, through the real Worker entry
 * (functions/worker.ts) and the bindings of vitest.workerd.config.mts, against
 * the seeded demo database on real PostgreSQL.
 */
import { env, exports } from 'cloudflare:workers'
import postgres from 'postgres'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../functions/worker.ts'
import { NO_DATABASE_URL, WORKERD_API_TOKEN } from './bindings.ts'

const hasDatabase = inject('workerdDatabaseUrl') !== ''
const auth = { Authorization: `Bearer ${WORKERD_API_TOKEN}` }
const post = (body?: unknown) => ({
  method: 'POST',
  headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
})

function request(path: string, init?: RequestInit) {
  return exports.default.fetch(new Request(`http://dq.test${path}`, init))
}

/** The Worker with other bindings: a database nobody listens on proves no database call. */
function requestWith(bindings: Record<string, unknown>, path: string, init?: RequestInit) {
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} }
  return worker.fetch(new Request(`http://dq.test${path}`, init), bindings, ctx as never)
}

type ErrorJson = { error: { code: string; message: string; details?: unknown } }

describe('no secrets needed', () => {
  it('GET /health answers without any binding', async () => {
    const response = await requestWith({}, '/health')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', service: 'dq-monitor' })
  })

  it('a malformed secret is a 500 JSON naming the binding, not a crash', async () => {
    const response = await requestWith(
      { DQ_API_TOKEN: 'short', DQ_DATABASE_URL: NO_DATABASE_URL },
      '/checks',
      {
        headers: { Authorization: 'Bearer short' },
      },
    )
    expect(response.status).toBe(500)
    const body = (await response.json()) as ErrorJson
    expect(body.error.code).toBe('config')
    expect(body.error.message).toContain('DQ_API_TOKEN')
  })

  it.each([
    ['a space', 'has a space 0123456789'],
    ['a "!"', 'exclamation!0123456789'],
  ])(
    'a DQ_API_TOKEN with %s (no bearer header can carry it) is a 500 naming it, never echoing it',
    async (_, token) => {
      const response = await requestWith(
        { DQ_API_TOKEN: token, DQ_DATABASE_URL: NO_DATABASE_URL },
        '/checks',
        { headers: { Authorization: `Bearer ${token}` } },
      )
      expect(response.status).toBe(500)
      const text = await response.text()
      expect(JSON.parse(text).error).toMatchObject({ code: 'config' })
      expect(JSON.parse(text).error.message).toMatch(/DQ_API_TOKEN: may hold only letters, digits/)
      expect(text).not.toContain(token)
    },
  )

  it('a database URL that does not parse is a 500 JSON naming the binding, without the URL', async () => {
    const secret = 'postgres://dq:s3cret-pw@127.0.0.1:99999/app'
    const response = await requestWith(
      { DQ_API_TOKEN: WORKERD_API_TOKEN, DQ_DATABASE_URL: secret },
      '/checks',
      {
        headers: auth,
      },
    )
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text).error).toMatchObject({ code: 'config' })
    expect(JSON.parse(text).error.message).toContain('DQ_DATABASE_URL')
    expect(text).not.toContain('s3cret-pw')
  })

  it('a missing database binding is a 500 JSON naming what to set', async () => {
    const response = await requestWith({ DQ_API_TOKEN: WORKERD_API_TOKEN }, '/checks', {
      headers: auth,
    })
    expect(response.status).toBe(500)
    expect(((await response.json()) as ErrorJson).error.message).toContain('DQ_DATABASE_URL')
  })
})

describe('auth: 401/400 before any database call', () => {
  // A database where any dq call fails (never migrated; or nothing listening
  // without a server): a 401/400 here proves the request never used it.
  const unmigrated = inject('workerdUnmigratedUrl')
  const untouched = {
    DQ_API_TOKEN: WORKERD_API_TOKEN,
    DQ_DATABASE_URL: unmigrated || NO_DATABASE_URL,
  }
  const cases: [string, Record<string, string>, number, string][] = [
    ['no Authorization header', {}, 401, 'unauthorized'],
    ['a wrong token', { Authorization: 'Bearer wrong-token-wrong-token' }, 401, 'unauthorized'],
    ['a malformed header', { Authorization: 'Token abc' }, 400, 'bad_request'],
    ['a Bearer with nothing after it', { Authorization: 'Bearer' }, 400, 'bad_request'],
  ]
  for (const [what, headers, status, code] of cases) {
    for (const [method, path] of [
      ['GET', '/checks'],
      ['POST', '/checks/pwh_experience_key_stale/run'],
      ['POST', '/runs'],
      ['POST', '/history'],
    ] as const) {
      it(`${what}: ${method} ${path} is ${status}`, async () => {
        const response = await requestWith(untouched, path, { method, headers })
        expect(response.status).toBe(status)
        expect(((await response.json()) as ErrorJson).error.code).toBe(code)
      })
    }
  }

  it.runIf(unmigrated)('control: the right token does reach that database', async () => {
    const response = await requestWith(untouched, '/checks', { headers: auth })
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text).error).toMatchObject({ code: 'not_migrated' })
    expect(JSON.parse(text).error.message).toContain('dq migrate')
    expect(text).not.toContain(WORKERD_API_TOKEN)
  })
})

describe('bad requests: 400 with zod issues, 404s', () => {
  it.each([
    [
      'POST /runs with checks not an array',
      '/runs',
      { checks: 'pwh_experience_key_stale' },
      'checks',
    ],
    ['POST /runs with an unknown field', '/runs', { check: ['x'] }, ''],
    ['POST /runs with notify not a boolean', '/runs', { notify: 'yes' }, 'notify'],
    [
      'POST /checks/:name/run with an unknown field',
      '/checks/pwh_experience_key_stale/run',
      { now: true },
      '',
    ],
    ['POST /history without check', '/history', { limit: 5 }, 'check'],
    [
      'POST /history with a limit of 0',
      '/history',
      { check: 'pwh_experience_key_stale', limit: 0 },
      'limit',
    ],
  ])('%s', async (_what, path, body, field) => {
    const response = await request(path, post(body))
    expect(response.status).toBe(400)
    const json = (await response.json()) as ErrorJson
    expect(json.error.code).toBe('invalid_input')
    const issues = json.error.details as { path: string; message: string }[]
    expect(issues.length).toBeGreaterThan(0)
    expect(issues.map((issue) => issue.path)).toContain(field)
  })

  it('a body that is not JSON is 400', async () => {
    const response = await request('/runs', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{not json',
    })
    expect(response.status).toBe(400)
  })

  it('an unknown check is 404 naming it', async () => {
    const response = await request('/checks/no_such_check/run', post())
    expect(response.status).toBe(404)
    const json = (await response.json()) as ErrorJson
    expect(json.error.code).toBe('unknown_check')
    expect(json.error.message).toContain('no_such_check')
  })

  it('an unknown check in POST /runs and POST /history is 404', async () => {
    expect((await request('/runs', post({ checks: ['nope'] }))).status).toBe(404)
    expect((await request('/history', post({ check: 'nope' }))).status).toBe(404)
  })

  it('an unknown route is a JSON 404', async () => {
    const response = await request('/nowhere', { headers: auth })
    expect(response.status).toBe(404)
    expect(((await response.json()) as ErrorJson).error.code).toBe('not_found')
  })
})

describe.runIf(hasDatabase)('routes against the seeded database', () => {
  type Result = {
    check: string
    status: string
    value: number | null
    details: Record<string, unknown>
  }
  type Run = { run_id: string; trigger: string; results: Result[] }

  it('GET /checks lists the bundled catalog', async () => {
    const response = await request('/checks', { headers: auth })
    expect(response.status).toBe(200)
    const { checks } = (await response.json()) as { checks: { name: string; kind: string }[] }
    expect(checks).toHaveLength(26)
    expect(checks[0]).toMatchObject({ name: 'pwh_experience_key_stale', kind: 'stale_keys' })
  })

  it('POST /checks/:name/run runs one check and returns the result JSON', async () => {
    const response = await request('/checks/pwh_experience_key_stale/run', post())
    expect(response.status).toBe(200)
    const run = (await response.json()) as Run
    expect(run.trigger).toBe('http')
    expect(run.results).toHaveLength(1)
    expect(run.results[0]).toMatchObject({
      check: 'pwh_experience_key_stale',
      status: 'fail',
      value: 8346,
      details: { rows: 10000, mismatched: 8000, missing: 0, unexpected: 346 },
    })
  })

  it('POST /runs runs the checks with a tag', async () => {
    const response = await request('/runs', post({ tags: ['breezeway'] }))
    expect(response.status).toBe(200)
    const run = (await response.json()) as Run
    expect(run.results.map((r) => [r.check, r.value])).toEqual([
      ['breezeway_task_comments_duplicates', 14194],
      ['breezeway_task_photos_duplicates', 6893],
      ['breezeway_task_tags_duplicates', 0],
    ])
  })

  it('POST /runs with no body runs the whole catalog', async () => {
    const response = await request('/runs', post())
    expect(response.status).toBe(200)
    const run = (await response.json()) as Run
    expect(run.results).toHaveLength(26)
    // One check errors by design: its registry row names a table that does not exist.
    expect(run.results.filter((r) => r.status === 'error').map((r) => r.check)).toEqual([
      'company_news_to_core_gap',
    ])
  })

  it('POST /history returns the recorded results, newest first', async () => {
    const response = await request(
      '/history',
      post({ check: 'pwh_experience_key_stale', limit: 2 }),
    )
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      check: string
      results: (Result & { trigger: string; started_at: string })[]
    }
    expect(body.results).toHaveLength(2)
    expect(body.results.every((r) => r.value === 8346 && r.trigger === 'http')).toBe(true)
    expect((body.results[0]?.started_at ?? '') >= (body.results[1]?.started_at ?? '')).toBe(true)
  })

  it('GET /checks then shows each check with its last result', async () => {
    const response = await request('/checks', { headers: auth })
    const { checks } = (await response.json()) as {
      checks: { name: string; last: Result | null }[]
    }
    expect(checks.every((check) => check.last !== null)).toBe(true)
  })

  describe('single flight', () => {
    // Not ended: see functions/worker.ts (postgres.js end() in workerd); the runtime closes it.
    const sql = postgres(env.DQ_DATABASE_URL as string, { max: 1, onnotice: () => {} })

    it('two concurrent HTTP runs of one check: one 409, one result', async () => {
      // Hold the check's table so the first run waits inside its lock window.
      const release = Promise.withResolvers<void>()
      const holding = sql.begin(async (tx) => {
        await tx`lock table core.person_work_history in access exclusive mode`
        await release.promise
      })
      await new Promise((resolve) => setTimeout(resolve, 100))
      const first = request('/checks/pwh_experience_key_stale/run', post())
      await new Promise((resolve) => setTimeout(resolve, 500))
      const second = await request('/checks/pwh_experience_key_stale/run', post())
      release.resolve()
      await holding
      expect(second.status).toBe(409)
      expect(((await second.json()) as ErrorJson).error.code).toBe('check_running')
      const done = await first
      expect(done.status).toBe(200)
      expect(((await done.json()) as Run).results[0]?.value).toBe(8346)
    })
  })
})

describe.runIf(hasDatabase)(
  'through supabase-js (SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY)',
  () => {
    const supabase = inject('workerdSupabase')
    const bindings = {
      DQ_API_TOKEN: WORKERD_API_TOKEN,
      SUPABASE_URL: supabase.url,
      SUPABASE_SERVICE_ROLE_KEY: supabase.serviceKey,
    }

    it('runs a check over the PostgREST API from inside workerd', async () => {
      const response = await requestWith(
        bindings,
        '/checks/breezeway_task_photos_duplicates/run',
        post(),
      )
      expect(response.status).toBe(200)
      const run = (await response.json()) as { results: { status: string; value: number }[] }
      expect(run.results[0]).toMatchObject({ status: 'fail', value: 6893 })
    })

    it('reads history over the API', async () => {
      const response = await requestWith(
        bindings,
        '/history',
        post({ check: 'breezeway_task_photos_duplicates' }),
      )
      expect(response.status).toBe(200)
      const body = (await response.json()) as { results: { value: number }[] }
      expect(body.results[0]?.value).toBe(6893)
    })

    it('only one of the two Supabase secrets is a 500 naming the other', async () => {
      const { SUPABASE_SERVICE_ROLE_KEY: _key, ...half } = bindings
      const response = await requestWith(half, '/checks', { headers: auth })
      expect(response.status).toBe(500)
      expect(((await response.json()) as ErrorJson).error.message).toContain(
        'SUPABASE_SERVICE_ROLE_KEY',
      )
    })
  },
)

describe.runIf(hasDatabase)('generated checks over HTTP, like hand-written ones', () => {
  type Listed = {
    name: string
    kind: string
    generated?: { by: string; from: string; row: Record<string, unknown> }
    last: { value: number | null; status: string } | null
  }
  type Run = {
    run_id: string
    trigger: string
    results: {
      check: string
      status: string
      value: number | null
      error?: string | null
      details: Record<string, unknown>
    }[]
  }
  const listed = async () => {
    const response = await request('/checks', { headers: auth })
    expect(response.status).toBe(200)
    return ((await response.json()) as { checks: Listed[] }).checks
  }

  it('GET /checks: each generated check says by, from and its registry row; others say nothing', async () => {
    const checks = await listed()
    const generated = checks.filter((check) => check.generated)
    expect(generated.map((check) => check.name).sort()).toEqual([
      'company_headcount_to_core_gap',
      'company_news_to_core_gap',
      'company_technographics_to_core_gap',
      'job_postings_to_core_gap',
      'person_discovery_to_core_gap',
      'person_profile_to_core_gap',
    ])
    expect(checks.find((check) => check.name === 'job_postings_to_core_gap')).toMatchObject({
      kind: 'coverage_gap',
      generated: {
        by: 'generate_to_core_gap',
        from: 'reference.enrichment_workflow_registry',
        row: {
          workflow_name: 'job_postings',
          extracted_table: 'extracted.job_postings',
          core_table: 'core.job_postings',
          key_column: 'posting_url',
          coalesces_to_core: true,
          is_active: true,
        },
      },
    })
    const handWritten = checks.find((check) => check.name === 'enrichment_registry_complete')
    expect(handWritten).toBeDefined()
    expect(handWritten).not.toHaveProperty('generated')
  })

  it('POST /checks/job_postings_to_core_gap/run runs it alone (600 of 600), and history has it', async () => {
    const response = await request('/checks/job_postings_to_core_gap/run', post())
    expect(response.status).toBe(200)
    const run = (await response.json()) as Run
    expect(run.trigger).toBe('http')
    expect(run.results).toHaveLength(1)
    expect(run.results[0]).toMatchObject({
      check: 'job_postings_to_core_gap',
      status: 'fail',
      value: 600,
      details: { source_rows: 600, missing: 600, ratio: 1 },
    })
    const history = await request('/history', post({ check: 'job_postings_to_core_gap', limit: 1 }))
    expect(history.status).toBe(200)
    const body = (await history.json()) as { results: (Run['results'][number] & Run)[] }
    expect(body.results[0]).toMatchObject({
      run_id: run.run_id,
      check: 'job_postings_to_core_gap',
      value: 600,
      trigger: 'http',
    })
    const last = (await listed()).find((check) => check.name === 'job_postings_to_core_gap')?.last
    expect(last).toMatchObject({ status: 'fail', value: 600 })
  })

  it('POST /checks/company_news_to_core_gap/run: a result in error naming the missing table', async () => {
    const response = await request('/checks/company_news_to_core_gap/run', post())
    expect(response.status).toBe(200)
    const run = (await response.json()) as Run
    expect(run.results).toHaveLength(1)
    expect(run.results[0]).toMatchObject({ check: 'company_news_to_core_gap', status: 'error' })
    expect(run.results[0]?.error).toContain('relation "core.company_news" does not exist')
  })

  it('a registry row that makes no check (inactive) is a 404 naming it', async () => {
    const response = await request('/checks/person_contact_to_core_gap/run', post())
    expect(response.status).toBe(404)
    const json = (await response.json()) as ErrorJson
    expect(json.error.code).toBe('unknown_check')
    expect(json.error.message).toContain('person_contact_to_core_gap')
  })
})
