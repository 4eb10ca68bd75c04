// The status page on the demo incidents, through the whole app (functions/app.ts:
// the JSON API and the pages side by side), on every engine: what each page
// shows, filters as links, "Run now" (and a run already in progress), the
// coverage table, HTML errors; and that the JSON API still takes the bearer
// token only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { notifyRun } from '../alerts/notify/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { expandCatalog } from '../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../checks/load-catalog.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { createApp, type Services } from '../functions/app.ts'
import { DqError } from '../kernel/errors.ts'
import { engines, useDatabase } from './support/databases.ts'
import { startSlackReceiver } from './support/slack-receiver.ts'
import { checkRows, cookieOf, csrfIn, formPost, ORIGIN, signIn } from './support/status.ts'

const TOKEN = 'pages-test-token-0123456789'
const catalog = await loadCatalog({ path: BUNDLED_CATALOG })

describe.each(engines())('the status page on the demo incidents, %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  const services = (more: Partial<Services> = {}): Services => ({
    catalog,
    token: TOKEN,
    withDatabase: (use) => use(database().db),
    ...more,
  })
  const appWith = (more: Partial<Services> = {}) => {
    const app = createApp(() => services(more))
    return async (path: string, init?: RequestInit) => app.request(`${ORIGIN}${path}`, init)
  }
  const request = appWith()
  let cookie = ''
  const page = async (path: string) => {
    const response = await request(path, { headers: { cookie } })
    expect(response.status, path).toBe(200)
    return response.text()
  }
  const slack = startSlackReceiver()

  beforeAll(async () => {
    // One monitoring run of the demo catalog, alerting a Slack stand-in: results and open incidents.
    const checks = selectChecks(await expandCatalog(database().db, catalog))
    const run = await runChecks(database().db, checks, { trigger: 'cron' })
    await notifyRun(database().db, run, checks, {
      webhooks: { default: (await slack).url },
      databaseLabel: 'demo',
      sleep: async () => {},
    })
    cookie = await signIn(request, TOKEN)
  })
  afterAll(async () => (await slack).close())

  it('the overview: every check, worst first, each status an icon and a word, a sparkline each', async () => {
    const html = await page('/')
    // The demo catalog's 20 checks and the 6 generated from the registry.
    expect(checkRows(html)).toHaveLength(26)
    expect(checkRows(html)[0]).toBe('company_news_to_core_gap') // the one that cannot run: worst
    expect(checkRows(html).slice(-4).sort()).toEqual([
      'breezeway_task_tags_duplicates',
      'company_canonical_updated_at_trigger',
      'company_headcount_to_core_gap',
      'person_discovery_to_core_gap',
    ])
    expect(html).toContain('20 fail')
    // The summary chips too: every status there is an icon and a word, not a colour alone.
    const start = html.indexOf('<ul class="summary"')
    const summary = html.slice(start, html.indexOf('</ul>', start))
    const chips = [...summary.matchAll(/<a [^>]*class="badge (\w+)"[^>]*>(.*?)<\/a>/g)]
    expect(chips.map((chip) => chip[1])).toEqual(['fail', 'error', 'warn', 'pass'])
    for (const [chip] of chips)
      expect(chip).toMatch(/<span class="icon" aria-hidden="true">.<\/span>\d+ \w+</)
    expect(summary).toContain(
      '<a href="/?status=fail" class="badge fail"><span class="icon" aria-hidden="true">✕</span>20 fail</a>',
    )
    expect(html).toContain(
      '<span class="badge fail"><span class="icon" aria-hidden="true">✕</span>fail</span>',
    )
    expect(html.match(/<svg class="spark"[^>]*role="img"[^>]*aria-label="[^"]+"/g)).toHaveLength(26)
    expect(html).toContain('8,346')
    expect(html).toContain('8,000 mismatched, 0 missing, 346 unexpected of 10,000 rows (83.5%)')
    expect(html).toContain('@data-oncall')
  })

  it('open incidents first: the failing checks the run alerted on, with since when', async () => {
    const html = await page('/')
    const incidents = html.slice(
      html.indexOf('id="incidents-heading"'),
      html.indexOf('id="monitor-heading"'),
    )
    // A header row, then one per incident: 20 failing, 1 that cannot run, 1 warning.
    expect(incidents.match(/<tr>/g)?.length).toBe(22 + 1)
    expect(incidents).toContain('href="/check/pwh_experience_key_stale"')
    expect(incidents).toMatch(/<time datetime="[^"]+" title="[^"]+ UTC">just now<\/time>/)
    expect(html.indexOf('incidents-heading')).toBeLessThan(html.indexOf('checks-heading'))
    // No scheduled tick has run: the heartbeat says so.
    expect(html).toContain('No scheduled run has left a heartbeat yet')
  })

  it('filters are links: by status, tag and owner, combined, shown as current', async () => {
    expect((await checkRows(await page('/?status=pass'))).sort()).toEqual([
      'breezeway_task_tags_duplicates',
      'company_canonical_updated_at_trigger',
      'company_headcount_to_core_gap',
      'person_discovery_to_core_gap',
    ])
    expect(checkRows(await page('/?tag=jobs')).sort()).toEqual([
      'enriched_jobs_daily_volume',
      'jobs_raw_vs_enriched',
    ])
    expect(checkRows(await page('/?owner=%40integrations'))).toHaveLength(3)
    const both = await page('/?status=pass&owner=%40integrations')
    expect(checkRows(both)).toEqual(['breezeway_task_tags_duplicates'])
    // A tag link keeps the other filters; the current ones are marked.
    expect(both).toContain(
      '<a href="/?status=pass&amp;tag=breezeway&amp;owner=%40integrations">breezeway</a>',
    )
    expect(both).toContain(
      '<a href="/?status=pass&amp;owner=%40integrations" aria-current="true">@integrations</a>',
    )
    expect(both).toContain(
      '<a href="/?status=pass&amp;owner=%40integrations" aria-current="true">pass (4)</a>',
    )
    expect(both).toContain('<a href="/?owner=%40integrations">All</a>')
    expect(both).toContain('Showing 1 of 26 checks')
    expect(checkRows(await page('/?tag=nothing-has-this'))).toEqual([])
  })

  it("a check's page: description, kind, threshold, chart, sample rows, reproduce command, Run now", async () => {
    const html = await page('/check/pwh_experience_key_stale')
    expect(html).toContain('experience_key must equal the canonical formula')
    expect(html).toContain('<dd>stale_keys</dd>')
    expect(html).toContain('fail above 100, warn above 0')
    expect(html).toMatch(/<svg class="chart"[^>]*role="img"/)
    expect(html).toContain('class="threshold fail"')
    expect(html).toMatch(/<th scope="col">stored<\/th><th scope="col">expected<\/th>/)
    expect(html).toContain('dq run --check pwh_experience_key_stale --db')
    expect(html).toContain(`${ORIGIN}/checks/pwh_experience_key_stale/run`)
    expect(html).toMatch(
      /<form method="post" action="\/check\/pwh_experience_key_stale\/run"><input type="hidden" name="csrf" value="[^"]+"\/>/,
    )
    expect(html).toMatch(/Incident<\/dt><dd><span>fail since/)
  })

  it('Run now runs the check (trigger http) and the page shows the new result', async () => {
    const before = await database().query<{ n: number }>(
      `select count(*)::int as n from dq.results where check_name = 'jobs_raw_vs_enriched'`,
    )
    const html = await page('/check/jobs_raw_vs_enriched')
    const response = await request(
      '/check/jobs_raw_vs_enriched/run',
      formPost({ csrf: csrfIn(html) }, cookie),
    )
    expect(response.status).toBe(303)
    const location = response.headers.get('location') ?? ''
    const runId = /ran=([0-9a-f-]{36})$/.exec(location)?.[1]
    expect(runId).toBeDefined()
    const after = await page(location)
    expect(after).toContain('Ran just now')
    expect(after).toContain('118 lost rows (118 keys) of 409 raw; 212 collapsed, 79 keys matched')
    const [latest] = await database().query<{ run_id: string; trigger: string; n: number }>(
      `select run_id, trigger, (select count(*)::int from dq.results where check_name = 'jobs_raw_vs_enriched') as n
       from dq.results where check_name = 'jobs_raw_vs_enriched' order by id desc limit 1`,
    )
    expect(latest).toMatchObject({ run_id: runId, trigger: 'http', n: (before[0]?.n ?? 0) + 1 })
  })

  it('coverage by workflow: extracted rows, missing in core, ratio, trend; a generated check shows its workflow', async () => {
    const generated = {
      ...catalog,
      checks: catalog.checks.map((check) =>
        check.name === 'company_funding_gap'
          ? {
              ...check,
              generated: {
                by: 'generate_to_core_gap',
                from: 'reference.enrichment_workflow_registry',
                row: { workflow_name: 'company_funding' },
              },
            }
          : check,
      ),
    }
    const withGenerated = appWith({ catalog: generated })
    const response = await withGenerated('/coverage', { headers: { cookie } })
    const html = await response.text()
    const rows = [...html.matchAll(/<tr><td data-label="Workflow">(.*?)<\/tr>/g)].map(
      (m) => m[1] ?? '',
    )
    // Every coverage_gap check: the two of the catalog, registry completeness, the six generated.
    expect(rows).toHaveLength(9)
    // Worst first: the check that could not run (company_news has no core table), its
    // error shown; then the largest ratio: job_postings reaches core not at all.
    expect(rows[0]).toContain('>company_news</a><div class="muted">company_news_to_core_gap</div>')
    expect(rows[0]).toContain('relation &quot;core.company_news&quot; does not exist')
    expect(rows[1]).toContain('>job_postings</a><div class="muted">job_postings_to_core_gap</div>')
    expect(rows[1]).toMatch(/600<\/td>.*600<\/td>.*100\.0%<\/td>/)
    const funding = rows.find((row) => row.includes('company_funding_gap'))
    expect(funding).toContain('>company_funding</a><div class="muted">company_funding_gap</div>')
    expect(funding).toMatch(/5,000<\/td>.*960<\/td>.*19\.2%<\/td>/)
    const profile = rows.find((row) => row.includes('person_profile_to_core_gap'))
    expect(profile).toMatch(/2,000<\/td>.*120<\/td>.*6\.0%<\/td>/)
    expect(html.match(/<svg class="spark"/g)).toHaveLength(9)
    // 600 + 5 + 960 + 120 + 150 + 10 of 600 + 13 + 5,000 + 2,000 + 3,000 + 1,000 + 800 + 1,500.
    expect(html).toContain(
      '6 of 9 checks find a gap: 1,845 of 13,913 source rows have no match in their target.',
    )
  })

  /** The app on the test database, recording each dq.* call it makes. */
  const counting = (more: Partial<Services> = {}) => {
    const calls: string[] = []
    const db = () => database().db
    const app = appWith({
      ...more,
      withDatabase: (use) =>
        use({
          label: db().label,
          migrate: () => db().migrate(),
          close: () => db().close(),
          call: (fn, args, options) => {
            calls.push(fn)
            return db().call(fn, args, options)
          },
        }),
    })
    return { calls, get: (path: string) => app(path, { headers: { cookie } }) }
  }

  it('each page is one database call, the catalog generator expanded inside it', async () => {
    expect(catalog.generators).toHaveLength(1) // the bundled demo catalog's registry generator
    const { calls, get } = counting()
    for (const [path, fn] of [
      ['/', 'status_overview'],
      ['/?status=fail&tag=registry', 'status_overview'],
      ['/coverage', 'status_checks'],
      ['/check/pwh_experience_key_stale', 'status_check'],
      ['/check/person_profile_to_core_gap', 'status_check'], // a generated check
      ['/check/company_news_to_core_gap', 'status_check'], // generated, cannot run
    ] as const) {
      calls.length = 0
      const response = await get(path)
      expect(response.status, path).toBe(200)
      expect(calls, path).toEqual([fn])
    }
    // The same checks as expanding the catalog call by call (the six generated included),
    // and a generated check's page is its own, with Run now.
    const expanded = await expandCatalog(database().db, catalog)
    const overview = await (await get('/')).text()
    expect(checkRows(overview).sort()).toEqual(expanded.checks.map((check) => check.name).sort())
    const generated = await (await get('/check/person_profile_to_core_gap')).text()
    expect(generated).toContain('Run now</button>')
    expect(generated).not.toContain('This check is no longer in the catalog')
  })

  it('a generator that cannot expand is one check on the pages, still one call each', async () => {
    const [registry] = catalog.generators
    if (!registry) throw new Error('the demo catalog has its registry generator')
    const missing = {
      generate: {
        ...registry.generate,
        name: '{workflow_name}_to_nowhere_gap',
        from: 'reference.no_such_registry',
      },
    }
    const { calls, get } = counting({
      catalog: { ...catalog, generators: [...catalog.generators, missing] },
    })
    const html = await (await get('/')).text()
    expect(calls).toEqual(['status_overview'])
    // Named by the generator's id, beside the 26; it has not run.
    expect(checkRows(html)).toContain('generate_to_nowhere_gap')
    expect(checkRows(html)).toHaveLength(27)
    calls.length = 0
    const page = await get('/check/generate_to_nowhere_gap')
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Run now</button>')
    expect(calls).toEqual(['status_check'])
  })

  it('pages are HTML without script, with lang, landmarks and a skip link', async () => {
    for (const path of ['/', '/coverage', '/check/pwh_natural_key_duplicates']) {
      const html = await page(path)
      expect(html.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true)
      expect(html).not.toMatch(/<script|\son[a-z]+=/i)
      for (const landmark of [
        '<header',
        '<nav aria-label="Pages">',
        '<main id="main"',
        '<footer',
      ]) {
        expect(html).toContain(landmark)
      }
      expect(html).toContain('<a class="skip" href="#main">')
    }
    const css = await request('/status.css?v=1')
    expect(css.headers.get('content-type')).toContain('text/css')
    expect(await css.text()).toContain('@media (max-width:700px)')
  })

  it('a check gone from the catalog keeps its page of history, without Run now', async () => {
    const without = appWith({
      catalog: {
        ...catalog,
        checks: catalog.checks.filter((c) => c.name !== 'jobs_raw_vs_enriched'),
      },
    })
    const response = await without('/check/jobs_raw_vs_enriched', { headers: { cookie } })
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('This check is no longer in the catalog')
    expect(html).toContain('118 lost rows (118 keys) of 409 raw')
    expect(html).toContain('dq history --check jobs_raw_vs_enriched')
    expect(html).not.toContain('Run now</button>')
    expect(html).toContain('<dd>raw_vs_enriched</dd>')
  })

  it('errors are pages too: an unknown check is a 404, an unreachable database a 503 saying so', async () => {
    const missing = await request('/check/no_such_check', { headers: { cookie } })
    expect(missing.status).toBe(404)
    expect(await missing.text()).toContain('no check named &quot;no_such_check&quot;')
    const down = appWith({
      withDatabase: () =>
        Promise.reject(
          new DqError('unavailable', 'the database cannot be reached: check DQ_DATABASE_URL'),
        ),
    })
    const response = await down('/', { headers: { cookie } })
    expect(response.status).toBe(503)
    expect(response.headers.get('content-type')).toContain('text/html')
    // Hosts and settings stay in the logs, as in the JSON API.
    const text = await response.text()
    expect(text).toContain('The database is unavailable (the service logs have the details)')
    expect(text).not.toContain('DQ_DATABASE_URL')
  })

  it('the JSON API keeps the bearer token only: the session cookie opens none of it', async () => {
    for (const [path, init] of [
      ['/checks', {}],
      ['/checks/pwh_experience_key_stale/run', { method: 'POST' }],
      ['/history', { method: 'POST', body: '{"check":"pwh_experience_key_stale"}' }],
    ] as const) {
      const response = await request(path, { ...init, headers: { cookie } })
      expect(response.status, path).toBe(401)
      expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } })
    }
    const json = await request('/checks', { headers: { Authorization: `Bearer ${TOKEN}` } })
    expect(json.status).toBe(200)
    expect((await request('/health')).status).toBe(200)
  })

  it.runIf(engine === 'postgres')(
    'Run now while the check is already running: a message, not a crash',
    async () => {
      await database().exec(`
      create schema slow; create table slow.t (id int);
      insert into slow.t values (1);
      grant usage on schema slow to dq_monitor; grant select on slow.t to dq_monitor;`)
      const slowCatalog = parseCatalog({
        checks: [
          {
            name: 'slow_check',
            kind: 'duplicates',
            table: 'slow.t',
            columns: ['case when pg_sleep(1.5) is null then id end'],
          },
        ],
      })
      const slowApp = appWith({ catalog: slowCatalog })
      const session = await signIn(slowApp, TOKEN)
      const csrf = csrfIn(
        await (await slowApp('/check/slow_check', { headers: { cookie: session } })).text(),
      )
      const answers = await Promise.all([
        slowApp('/check/slow_check/run', formPost({ csrf }, session)),
        slowApp('/check/slow_check/run', formPost({ csrf }, session)),
      ])
      const locations = answers.map(
        (r) => `${r.status} ${r.headers.get('location')?.replace(/ran=.*/, 'ran=…')}`,
      )
      expect(locations.sort()).toEqual([
        '303 /check/slow_check?busy=1',
        '303 /check/slow_check?ran=…',
      ])
      const busy = await (
        await slowApp('/check/slow_check?busy=1', { headers: { cookie: session } })
      ).text()
      expect(busy).toContain('This check is already running')
    },
  )

  it('signing out ends the session in this browser', async () => {
    const session = await signIn(request, TOKEN)
    const html = await (await request('/', { headers: { cookie: session } })).text()
    const out = await request('/logout', formPost({ csrf: csrfIn(html) }, session))
    expect(out.status).toBe(303)
    expect(cookieOf(out)).toBe('__Host-dq_session=')
    const login = await request('/login?signed_out=1')
    expect(await login.text()).toContain('You are signed out.')
  })
})
