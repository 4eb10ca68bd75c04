// The status page's SQL (supabase/schemas/50_status_page.sql) on every engine:
// results roll up into 6-hour buckets as they are recorded, deletes rebuild
// them, the migration rolls up older history, and each page's one call gives
// what the page draws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../checks/catalog.ts'
import { expandCatalog } from '../checks/generate.ts'
import type { RunResult } from '../checks/result.ts'
import { recordRun } from '../checks/store.ts'
import { SupabaseDatabase } from '../db/supabase.ts'
import { engines, useDatabase } from '../test/support/databases.ts'
import {
  ensureSupabaseRoles,
  type PostgrestServer,
  startPostgrest,
} from '../test/support/postgrest.ts'
import { checkData, coverageData, expandedWith, overviewData } from './store.ts'

const HOUR = 3_600_000
const BUCKET = 6 * HOUR
/** The start of the 6-hour bucket `now` falls in (buckets are aligned on midnight UTC). */
const currentBucket = () => Math.floor(Date.now() / BUCKET) * BUCKET

type Result = RunResult['results'][number]
const result = (
  check: string,
  status: Result['status'],
  value: number | null,
  more: Partial<Result> = {},
): Result => ({
  check,
  kind: 'duplicates',
  status,
  severity: 'warning',
  owner: null,
  value,
  threshold: { fail: 0, metric: 'count' },
  details: {},
  sample: [],
  duration_ms: 1,
  error: status === 'error' ? 'it broke' : null,
  error_code: status === 'error' ? 'database' : null,
  ...more,
})

const run = (at: number, results: Result[]): RunResult => ({
  run_id: crypto.randomUUID(),
  trigger: 'cron',
  started_at: new Date(at).toISOString(),
  duration_ms: 1,
  results,
})

/** A catalog check and two generators: one over reg.workflows, one over a table that is not there. */
const generatorCatalog = () =>
  parseCatalog({
    checks: [
      { name: 'plain', kind: 'duplicates', table: 'reg.items', columns: ['id'] },
      {
        generate: {
          name: '{wf}_dups',
          from: 'reg.workflows',
          check: { kind: 'duplicates', table: 'reg.items', columns: ['id'], owner: '@ops' },
        },
      },
      {
        generate: {
          name: '{wf}_gone',
          from: 'reg.missing',
          check: { kind: 'duplicates', table: 'reg.items', columns: ['id'] },
        },
      },
    ],
  })

describe.each(engines())('status page SQL on %s', (engine) => {
  const database = useDatabase(engine)
  const port = () => database().db
  const previous = () => currentBucket() - BUCKET

  /** The buckets as the triggers keep them, and as they would be rebuilt from dq.results now. */
  const rollups = async () => {
    const kept = await database().query<{ n: number; worst: number }>(
      'select check_name, bucket, results as n, worst, figure_low, figure_high from dq.result_buckets order by 1, 2',
    )
    const rebuilt = await database().query(
      `select check_name, bucket, count(*)::int as n, max(rank) as worst, min(figure) as figure_low,
              max(figure) as figure_high
       from dq.result_points group by 1, 2 order by 1, 2`,
    )
    return { kept, rebuilt }
  }

  it('a bucket keeps the worst status, the lowest and highest figure, and its results', async () => {
    const start = previous()
    await recordRun(port(), run(start + HOUR, [result('a', 'fail', 10), result('b', 'pass', 0)]))
    await recordRun(port(), run(start + 2 * HOUR, [result('a', 'pass', 0), result('b', 'pass', 0)]))
    await recordRun(port(), run(start + 3 * HOUR, [result('a', 'warn', 4)]))
    const page = await checkData(port(), 'a')
    const point = page.series.points.at(-1)
    expect(point).toMatchObject({ high: 10, low: 0, status: 'fail', results: 3 })
    expect(point?.lastAt).toBe(new Date(start + 3 * HOUR).toISOString())
    // The grid's bucket of that point starts where the results' bucket starts.
    expect(page.series.grid.start + (point?.index ?? 0) * page.series.grid.step).toBe(start / 1000)
    expect(page.latest).toMatchObject({ check: 'a', status: 'warn', value: 4 })
    expect(page.recent.map((r) => r.status)).toEqual(['warn', 'pass', 'fail'])
    const { kept, rebuilt } = await rollups()
    expect(kept).toEqual(rebuilt)
  })

  it('the overview has at most 62 points per check over 30 days, the window only', async () => {
    const old = currentBucket() - 40 * 24 * HOUR
    await recordRun(port(), run(old, [result('c', 'fail', 99)]))
    for (let day = 0; day < 30; day++) {
      await recordRun(port(), run(previous() + HOUR - day * 24 * HOUR, [result('c', 'pass', day)]))
    }
    const data = await overviewData(port(), ['c'])
    const series = data.series.c
    expect(series?.grid.step).toBe(12 * 3600)
    expect(series?.grid.points).toBeLessThanOrEqual(62)
    expect(series?.points).toHaveLength(30)
    // 99 is 40 days old: outside the window.
    expect(Math.max(...(series?.points ?? []).map((p) => p.high ?? 0))).toBe(29)
    expect(series?.points.every((p) => p.status === 'pass')).toBe(true)
    const indexes = (series?.points ?? []).map((p) => p.index)
    expect(indexes).toEqual([...indexes].sort((x, y) => x - y))
  })

  it('ratio thresholds chart the ratio; coverage charts the ratio whatever the threshold', async () => {
    const at = Date.now() - 60_000
    await recordRun(
      port(),
      run(at, [
        result('gap_ratio', 'fail', 150, {
          threshold: { fail: 0.01, metric: 'ratio' },
          details: { ratio: 0.05 },
        }),
        result('gap_count', 'fail', 960, { details: { ratio: 0.192 } }),
      ]),
    )
    const overview = await overviewData(port(), ['gap_ratio', 'gap_count'])
    expect(overview.series.gap_ratio?.points.at(-1)?.high).toBe(0.05)
    expect(overview.series.gap_count?.points.at(-1)?.high).toBe(960)
    const coverage = await coverageData(port(), ['gap_ratio', 'gap_count'])
    expect(coverage.series.gap_count?.points.at(-1)?.high).toBe(0.192)
    expect(coverage.latest.gap_count?.details).toEqual({ ratio: 0.192 })
  })

  it('reads the anomaly band when a result reports one; malformed details never stop a run being recorded', async () => {
    const at = Date.now() - 120_000
    await expect(
      recordRun(
        port(),
        run(at, [
          result('volume', 'fail', 79, { details: { anomaly: { expected: [162.1, 197.9] } } }),
          result('odd', 'pass', 1, {
            threshold: { fail: 0.5, metric: 'ratio' },
            details: { ratio: 'a lot', anomaly: { expected: 'soon' } },
          }),
        ]),
      ),
    ).resolves.toBe(true)
    const data = await overviewData(port(), ['volume', 'odd'])
    expect(data.series.volume?.points.at(-1)?.band).toEqual([162.1, 197.9])
    expect(data.series.odd?.points.at(-1)).toMatchObject({ high: null, status: 'pass' })
    expect(data.series.odd?.points.at(-1)?.band).toBeUndefined()
  })

  it('an error is a point of its own status with no figure', async () => {
    await recordRun(port(), run(Date.now() - 180_000, [result('broken', 'error', null)]))
    const page = await checkData(port(), 'broken')
    expect(page.series.points).toEqual([
      expect.objectContaining({ high: null, low: null, status: 'error', results: 1 }),
    ])
  })

  it('deleting runs rebuilds their buckets from the results that remain', async () => {
    const [latestRun] = await database().query<{ id: string }>(
      `select run_id as id from dq.results where check_name = 'a' order by started_at desc limit 1`,
    )
    await database().exec(`delete from dq.runs where id = '${latestRun?.id}'`)
    const page = await checkData(port(), 'a')
    expect(page.series.points.at(-1)).toMatchObject({
      high: 10,
      low: 0,
      status: 'fail',
      results: 2,
    })
    const { kept, rebuilt } = await rollups()
    expect(kept).toEqual(rebuilt)
  })

  it('history recorded before the buckets existed is rolled up by the migration, once', async () => {
    const { rebuilt } = await rollups()
    await database().exec('delete from dq.result_buckets')
    await port().migrate()
    expect((await rollups()).kept).toEqual(rebuilt)
    await port().migrate() // again: nothing doubles
    expect((await rollups()).kept).toEqual(rebuilt)
  })

  it('open incidents: warn, fail and error states (the monitor too), oldest first; the heartbeat', async () => {
    await database().exec(`
      insert into dq.alert_state (dedup_key, check_name, alert_kind, status, opened_at, observed_at)
      values ('a/threshold', 'a', 'threshold', 'fail', now() - interval '3 hours', now()),
             ('b/threshold', 'b', 'threshold', 'pass', null, now()),
             ('broken/error', 'broken', 'error', 'error', now() - interval '1 hour', now()),
             ('other/threshold', 'other', 'threshold', 'warn', now() - interval '5 hours', now()),
             ('dq-monitor/stale', null, 'stale', 'error', now() - interval '2 days', now());
      insert into dq.monitor_heartbeat (beat_at, interval_seconds, stale_after)
      values (now() - interval '10 minutes', 3600, now() + interval '110 minutes');`)
    const data = await overviewData(port(), ['a', 'b', 'broken'])
    // 'other' is not in this catalog; the monitor's own incident always is.
    expect(data.incidents.map((i) => i.dedup_key)).toEqual([
      'dq-monitor/stale',
      'a/threshold',
      'broken/error',
    ])
    expect(data.monitor).toMatchObject({ stale: false })
    expect(data.monitor.last_beat_at).not.toBeNull()
    const page = await checkData(port(), 'a')
    expect(page.alerts).toEqual([
      expect.objectContaining({ dedup_key: 'a/threshold', status: 'fail' }),
    ])
  })

  it('a check that never ran: no latest result, an empty chart', async () => {
    const page = await checkData(port(), 'never_ran')
    expect(page).toMatchObject({ latest: null, recent: [], alerts: [] })
    expect(page.series.points).toEqual([])
    const data = await overviewData(port(), ['never_ran'])
    expect(data.latest).toEqual({})
    expect(data.series).toEqual({})
  })

  it("each page's call expands the generators as expandCatalog does, and reads the generated checks", async () => {
    await database().exec(`
      create schema reg; create table reg.workflows (wf text); create table reg.items (id int);
      insert into reg.workflows values ('alpha'), ('beta');
      grant usage on schema reg to dq_monitor; grant select on all tables in schema reg to dq_monitor;`)
    const catalog = generatorCatalog()
    await recordRun(port(), run(Date.now() - HOUR, [result('alpha_dups', 'fail', 3)]))
    const direct = await expandCatalog(port(), catalog)
    expect(direct.checks.map((check) => check.name)).toEqual([
      'plain',
      'alpha_dups',
      'beta_dups',
      'generate_gone',
    ])
    const overview = await overviewData(port(), ['plain'], catalog.generators)
    expect(await expandedWith(catalog, overview.generated)).toEqual(direct)
    expect(Object.keys(overview.latest)).toEqual(['alpha_dups'])
    expect(Object.keys(overview.series)).toEqual(['alpha_dups'])
    const coverage = await coverageData(port(), [], catalog.generators)
    expect(await expandedWith(catalog, coverage.generated)).toEqual(direct)
    expect(Object.keys(coverage.latest)).toEqual(['alpha_dups'])
    const page = await checkData(port(), 'alpha_dups', catalog.generators)
    expect(await expandedWith(catalog, page.generated)).toEqual(direct)
    expect(page.latest?.status).toBe('fail')
    // The generator that could not expand: one check in error, the database's message in it.
    expect(direct.checks.at(-1)?.generated?.error).toMatch(
      /^generator generate_gone could not expand: .*reg\.missing/,
    )
    await database().exec('delete from dq.runs; drop schema reg cascade')
  })

  it('truncating the history empties the buckets', async () => {
    await database().exec('truncate dq.results')
    expect(await database().query('select * from dq.result_buckets')).toEqual([])
  })
})

// A Worker with SUPABASE_URL reads the pages through supabase-js: the same calls, the same answers.
describe.skipIf(!engines().includes('postgres'))('status page SQL through supabase-js', () => {
  beforeAll(() => ensureSupabaseRoles())
  const database = useDatabase('postgres')
  let api: PostgrestServer
  let supabase: SupabaseDatabase
  beforeAll(async () => {
    api = await startPostgrest({ databaseUrl: database().url as string })
    supabase = SupabaseDatabase.connect(api.url, api.serviceKey)
    await recordRun(
      database().db,
      run(Date.now() - 3 * HOUR, [result('a', 'fail', 10, { sample: [{ id: 1 }] })]),
    )
    await recordRun(
      database().db,
      run(Date.now() - HOUR, [result('a', 'pass', 0), result('b', 'warn', 2)]),
    )
  })
  afterAll(() => api?.close())

  it('each page gives the same data as a direct connection', async () => {
    const names = ['a', 'b', 'never_ran']
    const strip = <T extends { now: string }>({ now: _, ...rest }: T) => rest
    expect(strip(await overviewData(supabase, names))).toEqual(
      strip(await overviewData(database().db, names)),
    )
    expect(strip(await coverageData(supabase, names))).toEqual(
      strip(await coverageData(database().db, names)),
    )
    expect(strip(await checkData(supabase, 'a'))).toEqual(
      strip(await checkData(database().db, 'a')),
    )
    expect(api.calls.map((c) => `${c.fn} ${c.status}`)).toEqual([
      'dq.status_overview 200',
      'dq.status_checks 200',
      'dq.status_check 200',
    ])
  })

  it('with generators too: expanded inside the one call, as over a direct connection', async () => {
    await database().exec(`
      create schema reg; create table reg.workflows (wf text); create table reg.items (id int);
      insert into reg.workflows values ('alpha'), ('beta');
      grant usage on schema reg to dq_monitor, service_role;
      grant select on all tables in schema reg to dq_monitor, service_role;`)
    const catalog = generatorCatalog()
    const direct = await expandCatalog(database().db, catalog)
    const strip = <T extends { now: string }>({ now: _, ...rest }: T) => rest
    api.calls.length = 0
    const overview = await overviewData(supabase, ['a', 'plain'], catalog.generators)
    expect(strip(overview)).toEqual(
      strip(await overviewData(database().db, ['a', 'plain'], catalog.generators)),
    )
    expect(await expandedWith(catalog, overview.generated)).toEqual(direct)
    const page = await checkData(supabase, 'alpha_dups', catalog.generators)
    expect(await expandedWith(catalog, page.generated)).toEqual(direct)
    expect(api.calls.map((c) => `${c.fn} ${c.status}`)).toEqual([
      'dq.status_overview 200',
      'dq.status_check 200',
    ])
  })
})
