// The supabase-js adapter end to end: supabase-js -> HTTP -> a PostgREST-compatible
// endpoint (test/support/postgrest.ts) -> real PostgreSQL, against the demo incidents,
// compared check by check with the direct postgres.js adapter on the same database.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enqueueAlerts, markAlert, pendingAlerts } from '../alerts/store/index.ts'
import type { ResolvedCheck } from '../checks/catalog.ts'
import { expandCatalog } from '../checks/generate.ts'
import { loadCatalog } from '../checks/load-catalog.ts'
import type { CheckResult } from '../checks/result.ts'
import { type RunOutcome, runCheck, runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { checkHistory, latestResults, measureCheck, recordRun } from '../checks/store.ts'
import { openDatabase } from '../db/open-database.ts'
import { SupabaseDatabase } from '../db/supabase.ts'
import { rejection, spec } from './support/checks.ts'
import { engines, openTestDatabase, type TestDatabase, useDatabase } from './support/databases.ts'
import { ensureSupabaseRoles, type PostgrestServer, startPostgrest } from './support/postgrest.ts'

const POSTGRES = engines().includes('postgres')
const RUN = { timeoutSeconds: 30 }

/** A check that sleeps `seconds` on its one row: slow on purpose, reads nothing else. */
const slowCheck = (name: string, seconds: number): ResolvedCheck =>
  spec({
    name,
    kind: 'duplicates',
    table: 'public.dq_slow',
    columns: ['id'],
    where: `pg_sleep(${seconds}) is not null`,
  })

describe.skipIf(!POSTGRES)('supabase-js through a PostgREST-compatible endpoint', () => {
  beforeAll(() => ensureSupabaseRoles())
  const database = useDatabase('postgres', { seed: true })
  let api: PostgrestServer
  let supabase: SupabaseDatabase
  const direct: Map<string, CheckResult> = new Map()
  let viaApi: RunOutcome

  beforeAll(async () => {
    // What a Supabase user does for the schemas their checks read.
    await database().exec(`
      grant usage on schema core, extracted, breezeway, jobs to service_role;
      grant select on all tables in schema core, extracted, breezeway, jobs to service_role;
      create table public.dq_slow (id int); insert into public.dq_slow values (1);
      grant select on public.dq_slow to service_role;
      create table public.dq_private (id int);
      create sequence public.dq_probe_seq;
      grant usage, select, update on sequence public.dq_probe_seq to service_role;`)
    api = await startPostgrest({ databaseUrl: database().url as string })
    supabase = SupabaseDatabase.connect(api.url, api.serviceKey)

    const catalog = await loadCatalog({ path: 'checks/catalog.json' })
    // Generated through the API too: the same checks either way.
    const checks = selectChecks(await expandCatalog(supabase, catalog))
    expect(checks.map((c) => c.name)).toEqual(
      selectChecks(await expandCatalog(database().db, catalog)).map((c) => c.name),
    )
    const run = await runChecks(database().db, checks, { trigger: 'cli', record: false })
    for (const result of run.results) direct.set(result.check, result)
    viaApi = await runChecks(supabase, checks, { trigger: 'cli' })
  })
  afterAll(() => api?.close())

  const result = (name: string): CheckResult => {
    const found = viaApi.results.find((r) => r.check === name)
    if (!found) throw new Error(`no result for ${name}`)
    return found
  }

  describe('the demo incidents', () => {
    it('every check went through the API and none errored but the one designed to', () => {
      expect(viaApi.results.filter((r) => r.status === 'error').map((r) => r.check)).toEqual([
        'company_news_to_core_gap',
      ])
      expect(viaApi.results).toHaveLength(26)
      const checkCalls = api.calls.filter((c) => c.fn === 'dq.run_check' && c.status === 200)
      expect(checkCalls.length).toBeGreaterThanOrEqual(25)
    })

    it('gives the same result as postgres.js, check by check', () => {
      expect(viaApi.results.map((r) => r.check)).toEqual([...direct.keys()])
      // A volume check's buckets end at its own now(): the two runs are moments apart.
      const timeless = ({ duration_ms: _, details, ...result }: CheckResult) => {
        const { bucket_start: __, bucket_end: ___, ...rest } = details
        return { ...result, details: rest }
      }
      for (const got of viaApi.results) {
        expect(timeless(got), got.check).toEqual(timeless(direct.get(got.check) as CheckResult))
      }
    })

    it('reports the incident figures', () => {
      expect(result('pwh_experience_key_stale')).toMatchObject({
        status: 'fail',
        value: 8346,
        details: { rows: 10000, mismatched: 8000, missing: 0, unexpected: 346, ratio: 0.8346 },
      })
      expect(result('breezeway_task_comments_duplicates').details).toMatchObject({
        rows: 14664,
        groups: 470,
        extra_rows: 14194,
        unique_index: false,
      })
      expect(result('person_experience_to_core_gap').details).toEqual({
        source_rows: 3000,
        missing: 150,
        ratio: 0.05,
      })
      expect(result('jobs_raw_vs_enriched')).toMatchObject({
        value: 118,
        details: { raw_rows: 409, distinct_keys: 197, collapsed: 212, lost_keys: 118 },
      })
      expect(result('updated_at_triggers').value).toBe(4)
    })
  })

  describe('history through supabase-js', () => {
    it('recorded the run (dq.record_run, a read-write call)', async () => {
      expect(viaApi.recorded).toBe(true)
      expect(api.calls).toContainEqual({ fn: 'dq.record_run', status: 200 })
      const rows = await database().query<{ n: number }>(
        `select count(*)::int as n from dq.results where run_id = '${viaApi.run_id}'`,
      )
      expect(rows[0]?.n).toBe(26)
    })

    it('reads a check history, newest first', async () => {
      const history = await checkHistory(supabase, 'pwh_experience_key_stale', 5)
      expect(history[0]).toMatchObject({
        check: 'pwh_experience_key_stale',
        status: 'fail',
        value: 8346,
        trigger: 'cli',
        run_id: viaApi.run_id,
      })
      expect(history).toEqual(await checkHistory(database().db, 'pwh_experience_key_stale', 5))
    })

    it('reads the latest results, by name (a text[] argument) and all', async () => {
      const some = await latestResults(supabase, ['company_funding_gap', 'updated_at_triggers'])
      expect(Object.keys(some).sort()).toEqual(['company_funding_gap', 'updated_at_triggers'])
      expect(some.company_funding_gap).toMatchObject({ value: 960, run_id: viaApi.run_id })
      expect(await latestResults(supabase)).toEqual(await latestResults(database().db))
    })

    it('records a cron tick once (idempotency key)', async () => {
      const run = {
        run_id: crypto.randomUUID(),
        trigger: 'cron' as const,
        started_at: new Date().toISOString(),
        duration_ms: 1,
        results: [],
        idempotency_key: `0 * * * *@${new Date().toISOString()}`,
      }
      expect(await recordRun(supabase, run)).toBe(true)
      expect(await recordRun(supabase, { ...run, run_id: crypto.randomUUID() })).toBe(false)
    })
  })

  it('the anomaly option asks dq.anomaly through the API, against the history it recorded', async () => {
    const [check] = selectChecks(await loadCatalog({ path: 'checks/catalog.json' }), {
      names: ['jobs_raw_vs_enriched'],
    })
    if (check?.kind !== 'raw_vs_enriched')
      throw new Error('no jobs_raw_vs_enriched in the demo catalog')
    const result = await runCheck(supabase, { ...check, anomaly: { minTraining: 2 } })
    expect(api.calls).toContainEqual({ fn: 'dq.anomaly', status: 200 })
    expect(result.details.anomaly).toMatchObject({
      metric: 'value',
      figure: 118,
      training: 1, // the run above, recorded through the API
      reason: 'insufficient_training',
    })
  })

  describe('checks run read-only and one at a time', () => {
    it('a check whose expression writes is refused (STABLE: a READ ONLY transaction)', async () => {
      const writing = spec({
        kind: 'duplicates',
        table: 'public.dq_slow',
        columns: ['id'],
        where: `nextval('public.dq_probe_seq') > 0`,
      })
      const error = await rejection(measureCheck(supabase, writing, RUN))
      expect(error.code).toBe('database')
      expect(error.message).toContain('read-only transaction')
      expect(api.calls.at(-1)).toEqual({ fn: 'run_check', status: 405, code: '25006' })
      const [seq] = await database().query<{ is_called: boolean }>(
        'select is_called from public.dq_probe_seq',
      )
      expect(seq?.is_called).toBe(false)
    })

    it('the same check twice at once: the second is check_running (DQ409)', async () => {
      const check = slowCheck('slow_single_flight', 1.5)
      const first = measureCheck(supabase, check, RUN)
      await waitForAdvisoryLock(database())
      const second = await rejection(measureCheck(supabase, check, RUN))
      expect(second.code).toBe('check_running')
      expect(second.message).toContain('"slow_single_flight" is already running')
      expect(api.calls).toContainEqual({ fn: 'run_check', status: 400, code: 'DQ409' })
      await expect(first).resolves.toMatchObject({ value: 0 })
    })
  })

  describe('errors say what to do', () => {
    it('a database-side timeout (the function statement_timeout) is a timeout', async () => {
      await database().exec(`alter function dq.run_check(jsonb) set statement_timeout = '300ms'`)
      try {
        const error = await rejection(measureCheck(supabase, slowCheck('slow_timeout', 2), RUN))
        expect(error.code).toBe('timeout')
        expect(error.message).toContain('canceling statement due to statement timeout')
        expect(error.message).toContain('alter function dq.run_check(jsonb) set statement_timeout')
        expect(api.calls.at(-1)).toEqual({ fn: 'run_check', status: 500, code: '57014' })
      } finally {
        await database().exec(`alter function dq.run_check(jsonb) set statement_timeout = '55s'`)
      }
    })

    it("the migration's function statement_timeout overrides the API role's shorter one", async () => {
      // As on Supabase, where service_role inherits the authenticator's 8 s: here 300 ms.
      const strict = await startPostgrest({
        databaseUrl: database().url as string,
        statementTimeout: '300ms',
      })
      const db = SupabaseDatabase.connect(strict.url, strict.serviceKey)
      try {
        await expect(measureCheck(db, slowCheck('slow_hoisted', 1), RUN)).resolves.toMatchObject({
          value: 0,
        })
        await database().exec(`alter function dq.run_check(jsonb) reset statement_timeout`)
        const error = await rejection(measureCheck(db, slowCheck('slow_hoisted', 1), RUN))
        expect(error.code).toBe('timeout')
      } finally {
        await database().exec(`alter function dq.run_check(jsonb) set statement_timeout = '55s'`)
        await strict.close()
      }
    })

    it("a check's timeoutSeconds bounds the wait for its answer", async () => {
      const impatient = SupabaseDatabase.connect(api.url, api.serviceKey, {
        deadlineGraceSeconds: 0,
      })
      const started = performance.now()
      const error = await rejection(
        measureCheck(impatient, slowCheck('slow_deadline', 2), { timeoutSeconds: 0.3 }),
      )
      expect(performance.now() - started).toBeLessThan(1500)
      expect(error.code).toBe('timeout')
      expect(error.message).toMatch(/within 0\.3 s .*statement runs on until dq\.run_check/)
      // Other calls (history, record_run) wait callTimeoutSeconds (30 s), not the check's.
      await expect(checkHistory(impatient, 'x', 1)).resolves.toEqual([])
    })

    it('an old overload left by a migration (PGRST203): drop it, reload the schema cache', async () => {
      // check_history(check_name, max_results) as a later migration might have
      // replaced it, with the old one left behind: both fit the same arguments.
      await database().exec(`
        create function dq.check_history(check_name text, max_results integer default 20,
                                         since timestamptz default null)
        returns jsonb language sql stable as $$ select '[]'::jsonb $$;`)
      try {
        const error = await rejection(checkHistory(supabase, 'x', 1))
        expect(error.code).toBe('not_migrated')
        expect(error.message).toContain('more than one function dq.check_history')
        expect(error.message).toContain('Drop the old overload')
        expect(error.message).toContain("notify pgrst, 'reload schema'")
        expect(api.calls.at(-1)).toEqual({ fn: 'check_history', status: 300, code: 'PGRST203' })
      } finally {
        await database().exec('drop function dq.check_history(text, integer, timestamptz)')
      }
    })

    it('a table the service_role may not read: grant it', async () => {
      const error = await rejection(
        measureCheck(
          supabase,
          spec({ kind: 'duplicates', table: 'public.dq_private', columns: ['id'] }),
          RUN,
        ),
      )
      expect(error.code).toBe('config')
      expect(error.message).toContain('permission denied for table dq_private')
      expect(error.message).toContain(
        'grant select on all tables in schema <schema> to service_role',
      )
      expect(api.calls.at(-1)).toEqual({ fn: 'run_check', status: 403, code: '42501' })
    })

    it('an invalid check: the same message as the direct adapter', async () => {
      const broken = spec({ kind: 'duplicates', table: 'core.no_such_table', columns: ['id'] })
      const viaApi = await rejection(measureCheck(supabase, broken, RUN))
      const viaSql = await rejection(measureCheck(database().db, broken, RUN))
      expect(viaApi.code).toBe(viaSql.code)
      expect(viaApi.message).toBe(viaSql.message)
      expect(viaApi.message).toContain('check field "table"')
    })

    it('schema dq not exposed by the API: expose it', async () => {
      const hidden = await startPostgrest({
        databaseUrl: database().url as string,
        schemas: ['public', 'graphql_public'],
      })
      try {
        const db = SupabaseDatabase.connect(hidden.url, hidden.serviceKey)
        const error = await rejection(checkHistory(db, 'x', 1))
        expect(error.code).toBe('config')
        expect(error.message).toContain('does not expose schema dq')
        expect(error.message).toContain('Exposed schemas')
        expect(error.message).toContain('[api] in supabase/config.toml')
        expect(hidden.calls).toEqual([{ fn: 'check_history', status: 406, code: 'PGRST106' }])
      } finally {
        await hidden.close()
      }
    })

    it('a key the API does not know: set the service_role key', async () => {
      const stranger = await api.sign({ role: 'service_role', iss: 'another-project' })
      const db = SupabaseDatabase.connect(api.url, `${stranger.slice(0, -4)}AAAA`)
      const error = await rejection(checkHistory(db, 'x', 1))
      expect(error.code).toBe('config')
      expect(error.message).toContain('rejected SUPABASE_SERVICE_ROLE_KEY (Invalid API key)')
    })

    it('the anon key is refused before any request', async () => {
      const before = api.calls.length
      const error = await rejection((async () => SupabaseDatabase.connect(api.url, api.anonKey))())
      expect(error.code).toBe('config')
      expect(error.message).toContain('"anon" role')
      expect(api.calls).toHaveLength(before)
    })

    it('a secret key (sb_secret_...) stands for service_role', async () => {
      const keyed = await startPostgrest({
        databaseUrl: database().url as string,
        secretKeys: { sb_secret_test0123456789: 'service_role' },
      })
      try {
        const db = SupabaseDatabase.connect(keyed.url, 'sb_secret_test0123456789')
        await expect(checkHistory(db, 'pwh_experience_key_stale', 1)).resolves.toHaveLength(1)
      } finally {
        await keyed.close()
      }
    })

    it('migrate() cannot go through the API: says how instead', async () => {
      const error = await rejection(supabase.migrate())
      expect(error.code).toBe('config')
      expect(error.message).toMatch(/supabase db push.*dq migrate --db postgres:\/\//)
    })

    it('an unreachable project: names the host', async () => {
      const db = SupabaseDatabase.connect('http://127.0.0.1:9', api.serviceKey)
      const error = await rejection(checkHistory(db, 'x', 1))
      expect(error.code).toBe('database')
      expect(error.message).toContain('cannot reach the Supabase API at 127.0.0.1:9')
      expect(error.message).not.toContain(api.serviceKey)
    })
  })
})

describe.skipIf(!POSTGRES)('supabase-js before the migration', () => {
  let handle: (TestDatabase & { close(): Promise<void> }) | undefined
  let api: PostgrestServer | undefined
  beforeAll(async () => {
    await ensureSupabaseRoles()
    handle = await openTestDatabase('postgres')
    api = await startPostgrest({ databaseUrl: handle.url as string })
  })
  afterAll(async () => {
    await api?.close()
    await handle?.close()
  })

  it('a missing dq function is not_migrated: apply the migrations', async () => {
    const server = api as PostgrestServer
    const db = SupabaseDatabase.connect(server.url, server.serviceKey)
    const error = await rejection(
      measureCheck(db, spec({ kind: 'trigger', table: 'pg_class' }), RUN),
    )
    expect(error.code).toBe('not_migrated')
    expect(error.message).toContain('no function dq.run_check')
    expect(error.message).toContain('supabase db push')
    expect(server.calls).toEqual([{ fn: 'run_check', status: 404, code: 'PGRST202' }])
  })
})

describe('choosing supabase-js (openDatabase)', () => {
  const env = {
    SUPABASE_URL: 'https://abcdefghij.supabase.co',
    SUPABASE_SERVICE_ROLE_KEY: 'sb_secret_x',
  }

  it('SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY without --db: supabase-js, labelled by host', async () => {
    const db = await openDatabase({ env })
    expect(db).toBeInstanceOf(SupabaseDatabase)
    expect(db.label).toBe('abcdefghij.supabase.co')
  })

  it('--db wins over the Supabase variables', async () => {
    // postgres.js connects lazily: nothing listens there, and nothing is asked.
    const db = await openDatabase({ reference: 'postgres://nobody@127.0.0.1:9/none', env })
    expect(db).not.toBeInstanceOf(SupabaseDatabase)
    await db.close()
  })

  it('nothing configured: names all three ways', async () => {
    const error = await rejection(openDatabase({ env: {} }))
    expect(error.code).toBe('config')
    expect(error.message).toMatch(
      /--db postgres:\/\/.*DQ_DATABASE_URL.*SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY/,
    )
  })

  it('one of the two: names the missing one', async () => {
    const error = await rejection(openDatabase({ env: { SUPABASE_URL: env.SUPABASE_URL } }))
    expect(error.message).toMatch(/^SUPABASE_SERVICE_ROLE_KEY is not set/)
  })

  it('a SUPABASE_URL that is not a URL, a publishable key: config errors', async () => {
    const notUrl = await rejection(openDatabase({ env: { ...env, SUPABASE_URL: 'abcdefghij' } }))
    expect(notUrl.message).toContain('is not a URL')
    const publishable = await rejection(
      openDatabase({ env: { ...env, SUPABASE_SERVICE_ROLE_KEY: 'sb_publishable_x' } }),
    )
    expect(publishable.message).toContain('publishable key')
  })

  it('every request goes through the injected fetch, as a POST with Content-Profile: dq', async () => {
    // 0.1 s + the 2 s grace is 2100.0000000000005 ms: the deadline must still be a whole number.
    const seen: Request[] = []
    const fetchSpy = async (...[input, init]: Parameters<typeof fetch>) => {
      seen.push(new Request(input, init))
      return Response.json({ value: 1, details: {}, sample: [] })
    }
    const db = await openDatabase({ env }, { fetch: fetchSpy as typeof fetch })
    await expect(
      measureCheck(db, spec({ kind: 'trigger', table: 't' }), { timeoutSeconds: 0.1 }),
    ).resolves.toEqual({
      value: 1,
      details: {},
      sample: [],
    })
    const [request] = seen
    expect(request?.method).toBe('POST')
    expect(request?.url).toBe('https://abcdefghij.supabase.co/rest/v1/rpc/run_check')
    expect(request?.headers.get('content-profile')).toBe('dq')
    expect(request?.headers.get('apikey')).toBe('sb_secret_x')
    expect(await request?.json()).toMatchObject({ spec: { kind: 'trigger', table: 't' } })
  })
})

describe('PostgREST and gateway answers as DqErrors (supabase-js over an injected fetch)', () => {
  const answer = (status: number, body: unknown) => async () =>
    typeof body === 'string'
      ? new Response(body, { status, headers: { 'Content-Type': 'text/html' } })
      : Response.json(body, { status })
  const db = (fetchImpl: () => Promise<Response>) =>
    SupabaseDatabase.connect('https://abcdefghij.supabase.co', 'sb_secret_x', {
      fetch: fetchImpl as typeof fetch,
    })

  it.each([
    [
      503,
      { code: 'PGRST002', message: 'Could not query the database for the schema cache. Retrying.' },
      'database',
      'could not reach its database',
    ],
    [504, '<html>upstream request timeout</html>', 'timeout', 'gave up on the request'],
    [
      400,
      { code: 'DQ409', message: 'check "x" is already running' },
      'check_running',
      'already running',
    ],
    [
      404,
      { code: '42883', message: 'function dq.run_check(spec => jsonb) does not exist' },
      'not_migrated',
      'supabase db push',
    ],
    [
      401,
      { code: 'PGRST301', message: 'JWT cryptographic operation failed' },
      'config',
      'rejected SUPABASE_SERVICE_ROLE_KEY',
    ],
    [
      400,
      { code: '22023', message: 'check field "maxPerKey" must be at least 1' },
      'database',
      'check field "maxPerKey"',
    ],
    [520, '<html>web server returned an unknown error</html>', 'database', 'answered HTTP 520'],
    [
      300,
      {
        code: 'PGRST203',
        message:
          'Could not choose the best candidate function between: dq.check_history(check_name => text, max_results => integer), dq.check_history(check_name => text, max_results => integer, since => timestamp with time zone)',
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      },
      'not_migrated',
      'Drop the old overload ("drop function dq.check_history(<its old argument types>)"',
    ],
  ] as const)('HTTP %i %j: %s', async (status, body, code, text) => {
    const error = await rejection(checkHistory(db(answer(status, body)), 'x', 1))
    expect(error.code).toBe(code)
    expect(error.message).toContain(text)
  })
})

describe('every call has a deadline (supabase-js over an injected fetch that never answers)', () => {
  /** Answers nothing, until the request's signal aborts it; records how long that took. */
  function silentApi() {
    const waited: { url: string; ms: number }[] = []
    const fetchImpl = (async (...[input, init]: Parameters<typeof fetch>) => {
      const started = performance.now()
      const signal = init?.signal
      return new Promise<Response>((_, reject) => {
        if (!signal) return // no deadline: hangs, and the test times out
        const give = () => {
          waited.push({ url: String(input), ms: performance.now() - started })
          reject(signal.reason)
        }
        if (signal.aborted) give()
        else signal.addEventListener('abort', give)
      })
    }) as typeof fetch
    return { fetch: fetchImpl, waited }
  }

  it.each([
    ['record_run', (db: SupabaseDatabase) => recordRun(db, emptyRun())],
    [
      'enqueue_alerts',
      (db: SupabaseDatabase) =>
        enqueueAlerts(db, { run_id: crypto.randomUUID(), states: [], messages: [] }),
    ],
    ['pending_alerts', (db: SupabaseDatabase) => pendingAlerts(db, { limit: 1, leaseSeconds: 60 })],
    ['mark_alert', (db: SupabaseDatabase) => markAlert(db, 1, { status: 'sent', attempts: 1 })],
    ['check_history', (db: SupabaseDatabase) => checkHistory(db, 'x', 1)],
  ] as const)('dq.%s gives up after callTimeoutSeconds: a timeout', async (fn, call) => {
    const api = silentApi()
    const db = SupabaseDatabase.connect('https://abcdefghij.supabase.co', 'sb_secret_x', {
      fetch: api.fetch,
      callTimeoutSeconds: 0.2,
    })
    const error = await rejection(call(db))
    expect(error.code).toBe('timeout')
    expect(error.message).toBe(
      `no answer from the Supabase API (abcdefghij.supabase.co) to dq.${fn} within 0.2 s: gave up waiting (the call may still complete in the database). The project may be paused, restarting or overloaded; the next run tries again`,
    )
    expect(api.waited).toEqual([
      { url: `https://abcdefghij.supabase.co/rest/v1/rpc/${fn}`, ms: expect.any(Number) },
    ])
    expect(api.waited[0]?.ms).toBeGreaterThanOrEqual(150)
    expect(api.waited[0]?.ms).toBeLessThan(2000)
  })

  it('30 s by default, and a check keeps its own deadline (timeoutSeconds + grace)', async () => {
    const api = silentApi()
    const timeouts: number[] = []
    const real = AbortSignal.timeout
    AbortSignal.timeout = (ms: number) => {
      timeouts.push(ms)
      return real.call(AbortSignal, 1) // the same signal, fired at once
    }
    try {
      const db = SupabaseDatabase.connect('https://abcdefghij.supabase.co', 'sb_secret_x', {
        fetch: api.fetch,
      })
      expect((await rejection(checkHistory(db, 'x', 1))).message).toContain('within 30 s')
      expect(
        (
          await rejection(
            measureCheck(db, spec({ kind: 'trigger', table: 't' }), { timeoutSeconds: 5 }),
          )
        ).message,
      ).toContain("within 7 s (the check's timeoutSeconds plus a grace period)")
    } finally {
      AbortSignal.timeout = real
    }
    expect(timeouts).toEqual([30_000, 7_000])
  })
})

function emptyRun() {
  return {
    run_id: crypto.randomUUID(),
    trigger: 'cli' as const,
    started_at: new Date().toISOString(),
    duration_ms: 0,
    results: [],
  }
}

/** Waits until some session holds a dq single-flight advisory lock. */
async function waitForAdvisoryLock(database: TestDatabase): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await database.query<{ n: number }>(
      `select count(*)::int as n from pg_locks where locktype = 'advisory' and granted`,
    )
    if ((row?.n ?? 0) > 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('no advisory lock was taken')
}
