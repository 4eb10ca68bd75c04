// The `anomaly` option on any check, on every engine: its figure against its
// own full-scope results in dq.results, computed in the database; what is
// left out of training; how it combines with a threshold; how the result
// reads in history, the CLI and Slack.
import { beforeAll, describe, expect, it } from 'vitest'
import { renderMessage } from '../alerts/slack/message/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { type AnomalyDetails, type CheckResult, keyFigure } from '../checks/result.ts'
import { runCheck, runChecks } from '../checks/run-checks.ts'
import { checkHistory } from '../checks/store.ts'
import { historyTable, resultsTable } from '../functions/cli/output.ts'
import { catalogIssues, spec } from './support/checks.ts'
import { engines, type TestDatabase, useDatabase } from './support/databases.ts'

/** Past results of `check`: one run each, `hoursAgo` before now. */
async function history(
  db: TestDatabase,
  check: string,
  entries: {
    value: number
    hoursAgo: number
    details?: Record<string, unknown>
    status?: string
  }[],
): Promise<void> {
  const statements = entries.map((e, i) => {
    const details = JSON.stringify(e.details ?? {}).replaceAll("'", "''")
    return `
      with run as (
        insert into dq.runs (id, trigger, started_at, duration_ms)
        values (gen_random_uuid(), 'cron', now() - interval '${e.hoursAgo} hours' - interval '${i} milliseconds', 0)
        returning id, started_at)
      insert into dq.results (run_id, check_name, kind, status, value, threshold, details, duration_ms, trigger, started_at)
      select id, '${check}', 'duplicates', '${e.status ?? 'pass'}', ${e.value}, '{}', '${details}'::jsonb, 0, 'cron', started_at
      from run;`
  })
  await db.exec(statements.join('\n'))
}

/** 14 daily results around 100 (sample stddev about 1.7). */
const DAILY = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101, 99, 100, 102, 98].map((value, i) => ({
  value,
  hoursAgo: 24 * (i + 1) - 2,
}))

const anomaly = (result: CheckResult) => result.details.anomaly as AnomalyDetails

describe.each(engines())('the anomaly option on %s', (engine) => {
  const database = useDatabase(engine)

  /** A duplicates check whose value is `extra` (rows beyond one per key). */
  async function setValue(table: string, extra: number) {
    await database().exec(`
      drop table if exists an.${table};
      create table an.${table} (k int, updated_at timestamptz not null default now());
      insert into an.${table} (k) select 1 from generate_series(0, ${extra});`)
  }
  const dups = (name: string, extra: Record<string, unknown> = {}) =>
    spec({ name, kind: 'duplicates', table: `an.${name}`, columns: ['k'], ...extra })

  beforeAll(async () => {
    await database().exec('create schema an')
  })

  it('alone: no threshold applies, the figure is tested against its own history', async () => {
    await history(database(), 'alone', DAILY)
    const check = dups('alone', { anomaly: {} })
    expect(check.threshold).toBeNull()

    await setValue('alone', 101) // inside the range: a threshold of "fail above 0" would fail it
    const normal = await runCheck(database().db, check)
    expect(normal).toMatchObject({ status: 'pass', value: 101, threshold: null })
    const values = DAILY.map((d) => d.value)
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
    const a = anomaly(normal)
    expect(a).toMatchObject({
      fired: null,
      anomalous: false,
      metric: 'value',
      figure: 101,
      training: 14,
    })
    expect(a.mean).toBeCloseTo(mean, 4)
    expect(a.stddev).toBeCloseTo(sd, 4)
    expect(a.expected?.[0]).toBeCloseTo(mean - 3 * sd, 3)
    expect(a.expected?.[1]).toBeCloseTo(mean + 3 * sd, 3)
    // the last six figures in history, oldest first, then this one
    expect(a.recent).toEqual([100, 99, 101, 98, 102, 100, 101])

    await setValue('alone', 130)
    const high = await runCheck(database().db, check)
    expect(high.status).toBe('fail')
    expect(anomaly(high)).toMatchObject({ fired: 'anomaly', anomalous: true })
    expect(anomaly(high).z).toBeCloseTo((130 - mean) / sd, 2)
    expect(keyFigure(high)).toMatch(
      /^1 keys over the limit, 130 extra of 131 rows.*; history: 130 \(expected 9\d\.\d–10\d\.\d\) [▁-█]{7}, z \d+\.\d\d over 14 results, anomalous$/,
    )
  })

  it('leaves out errors, incremental or sampled runs, anomalous results, other checks and older results', async () => {
    await history(database(), 'clean', DAILY)
    await history(database(), 'clean', [
      { value: 500, hoursAgo: 30, status: 'error' },
      { value: 500, hoursAgo: 31, details: { scope: 'incremental' } },
      { value: 500, hoursAgo: 32, details: { scope: 'sample' } },
      { value: 500, hoursAgo: 33, details: { anomaly: { anomalous: true } } },
      { value: 500, hoursAgo: 24 * 15 },
    ])
    await history(database(), 'other_check', [{ value: 500, hoursAgo: 5 }])
    await setValue('clean', 100)
    const result = await runCheck(database().db, dups('clean', { anomaly: {} }))
    expect(anomaly(result)).toMatchObject({ training: 14, anomalous: false })
    expect(anomaly(result).mean).toBeCloseTo(100, 0)
    // a longer training period reaches the 15-day-old result
    const longer = await runCheck(
      database().db,
      dups('clean', { anomaly: { training: '16 days' } }),
    )
    expect(anomaly(longer).training).toBe(15)
  })

  it('with a threshold too, the worse verdict wins and says which fired', async () => {
    await history(database(), 'both', DAILY)
    const verdict = async (extra: number, threshold: Record<string, number>) => {
      await setValue('both', extra)
      const r = await runCheck(database().db, dups('both', { anomaly: {}, threshold }))
      return [r.status, anomaly(r).fired]
    }
    expect(await verdict(100, { fail: 1000 })).toEqual(['pass', null])
    expect(await verdict(130, { fail: 1000 })).toEqual(['fail', 'anomaly'])
    expect(await verdict(100, { warn: 50, fail: 1000 })).toEqual(['warn', 'threshold'])
    expect(await verdict(130, { warn: 50 })).toEqual(['fail', 'both'])
    expect(await verdict(100, { fail: 50 })).toEqual(['fail', 'threshold'])
  })

  it('direction and sensitivity', async () => {
    await history(database(), 'direction', DAILY)
    await setValue('direction', 90)
    const status = async (settings: Record<string, unknown>) =>
      (await runCheck(database().db, dups('direction', { anomaly: settings }))).status
    expect(await status({})).toBe('fail')
    expect(await status({ direction: 'drop' })).toBe('fail')
    expect(await status({ direction: 'spike' })).toBe('pass')
    expect(await status({ sensitivity: 6 })).toBe('pass')
  })

  it('too little history never alarms', async () => {
    await history(database(), 'young', DAILY.slice(0, 3))
    await setValue('young', 1000)
    const result = await runCheck(database().db, dups('young', { anomaly: {} }))
    expect(result.status).toBe('pass')
    expect(anomaly(result)).toMatchObject({
      anomalous: false,
      reason: 'insufficient_training',
      training: 3,
      expected: null,
    })
    expect(keyFigure(result)).toContain('history: 3 results to compare, too few to test')
    const lower = await runCheck(database().db, dups('young', { anomaly: { minTraining: 3 } }))
    expect(lower.status).toBe('fail')
  })

  it('seasonality day_of_week: the same weekday (UTC) only', async () => {
    // Three results a day for four weeks: the same weekday holds 4 days of them.
    await history(
      database(),
      'weekly',
      Array.from({ length: 28 * 3 }, (_, i) => ({
        value: 100 + (i % 5),
        hoursAgo: 8 * (i + 1),
      })),
    )
    await setValue('weekly', 102)
    const flat = await runCheck(database().db, dups('weekly', { anomaly: { training: '28 days' } }))
    const seasonal = await runCheck(
      database().db,
      dups('weekly', { anomaly: { training: '28 days', seasonality: 'day_of_week' } }),
    )
    const [row] = await database().query<{ n: number }>(`
      select count(*)::int as n from dq.results
      where check_name = 'weekly' and started_at >= now() - interval '28 days'
        and extract(isodow from started_at at time zone 'UTC') = extract(isodow from now() at time zone 'UTC')`)
    expect(anomaly(flat).training).toBe(28 * 3 - 1)
    expect(anomaly(seasonal).training).toBe(row?.n)
    expect(row?.n).toBeLessThan(20)
  })

  it('metric "ratio" compares details.ratio', async () => {
    await database().exec(`
      create table an.src (id int); create table an.tgt (id int);
      insert into an.src select generate_series(1, 100); insert into an.tgt select generate_series(1, 95);`)
    await history(
      database(),
      'gap',
      DAILY.map((d) => ({ ...d, details: { ratio: (d.value - 95) / 100 } })),
    )
    const gap = spec({
      name: 'gap',
      kind: 'coverage_gap',
      source: { table: 'an.src', key: 'id' },
      target: { table: 'an.tgt', key: 'id' },
      anomaly: { metric: 'ratio' },
    })
    const result = await runCheck(database().db, gap)
    expect(anomaly(result)).toMatchObject({ metric: 'ratio', figure: 0.05 })
    expect(anomaly(result).mean).toBeCloseTo(0.05, 3)
    expect(keyFigure(result)).toMatch(/history: 5\.0% \(expected 0\.0%–\d+\.\d%\) [▁-█]{7}, z /)
  })

  it('an anomalous result is recorded as such and left out of the next training', async () => {
    await history(database(), 'poison', DAILY)
    const check = dups('poison', { anomaly: {} })
    await setValue('poison', 40)
    const first = await runChecks(database().db, [check], { trigger: 'cli' })
    expect(first.recorded).toBe(true)
    expect(first.results[0]?.status).toBe('fail')
    const [stored] = await checkHistory(database().db, 'poison', 1)
    expect(stored?.threshold).toBeNull()
    expect(stored?.details.anomaly).toMatchObject({ anomalous: true, fired: 'anomaly' })

    // The next day is normal again: the 40 is not in its training.
    await setValue('poison', 100)
    const next = await runChecks(database().db, [check], { trigger: 'cli' })
    const a = anomaly(next.results[0] as CheckResult)
    expect(next.results[0]?.status).toBe('pass')
    expect(a.training).toBe(14)
    expect(a.mean).toBeCloseTo(100, 0)
    // ...but it is in the sparkline: it happened.
    expect(a.recent.slice(-2)).toEqual([40, 100])
  })

  it('an incremental run is not compared with full runs', async () => {
    const check = dups('partial', {
      anomaly: { minTraining: 2 },
      incremental: { column: 'updated_at' },
    })
    await setValue('partial', 5)
    const full = await runChecks(database().db, [check], { trigger: 'cli' })
    expect(full.results[0]?.details.scope).toBe('full')
    const incremental = await runCheck(database().db, check)
    expect(incremental.details.scope).toBe('incremental')
    expect(anomaly(incremental)).toMatchObject({ anomalous: false, reason: 'partial_scope' })
    expect(keyFigure(incremental)).toContain('history: not compared (not a full run)')
  })

  it('errors name the anomaly field', async () => {
    await setValue('bad', 1)
    // The catalog refuses it first; the database names the field all the same.
    const check = dups('bad', { anomaly: {} })
    const result = await runCheck(database().db, {
      ...check,
      anomaly: { direction: 'sideways' },
    } as unknown as typeof check)
    expect(result.status).toBe('error')
    expect(result.error).toContain('check field "anomaly.direction"')
  })
})

describe('the anomaly option in the catalog', () => {
  const dup = { name: 'd', kind: 'duplicates', table: 't.a', columns: ['a'] }

  it('refuses a ratio from a kind that reports none, and unknown fields', () => {
    expect(catalogIssues({ ...dup, anomaly: { metric: 'ratio' } })).toEqual([
      {
        path: 'checks[0].anomaly.metric',
        message: '"ratio" is not reported by duplicates checks: use "value"',
      },
    ])
    expect(catalogIssues({ ...dup, anomaly: { window: '1 day' } }).map((i) => i.path)).toEqual([
      'checks[0].anomaly',
    ])
    expect(catalogIssues({ ...dup, anomaly: { training: 'forever' } }).map((i) => i.path)).toEqual([
      'checks[0].anomaly.training',
    ])
  })

  it('keeps an explicit threshold, or the defaults one, beside the anomaly test', () => {
    const own = parseCatalog({ checks: [{ ...dup, anomaly: {}, threshold: { fail: 5 } }] })
    expect(own.checks[0]?.threshold).toEqual({ fail: 5, metric: 'count' })
    const byDefault = parseCatalog({
      defaults: { threshold: { warn: 1 } },
      checks: [{ ...dup, anomaly: {} }],
    })
    expect(byDefault.checks[0]?.threshold).toEqual({ warn: 1, metric: 'count' })
  })
})

describe('a result without a threshold in the CLI and in Slack', () => {
  const result: CheckResult = {
    check: 'jobs_volume',
    kind: 'volume',
    status: 'fail',
    severity: 'critical',
    owner: '@jobs',
    value: 79,
    threshold: null,
    details: {
      bucket: 'day',
      bucket_start: '2026-11-30T08:00:00Z',
      bucket_end: '2026-12-01T08:00:00Z',
      count: 79,
      mean: 180,
      stddev: 5.9815,
      z: -16.89,
      low: 162.0556,
      high: 197.9444,
      training_buckets: 28,
      left_out: 0,
      anomalous: true,
      recent: [182, 187, 171, 176, 181, 186, 79],
      min_training: 7,
      seasonality: 'none',
      reason: null,
    },
    sample: [],
    duration_ms: 3,
    error: null,
    error_code: null,
  }

  it('the CLI tables show the expected range and the sparkline', () => {
    const table = resultsTable([result], { color: false })
    expect(table).toContain('79 (expected 162.1–197.9) ██▇▇██▁; z −16.89 against 28 days: a drop')
    const entry = {
      ...result,
      run_id: 'r',
      trigger: 'cron' as const,
      started_at: '2026-12-01T09:00:00Z',
    }
    expect(historyTable([entry], { color: false })).toContain('79 (expected 162.1–197.9)')
  })

  it('Slack says the value against the expected range, not a threshold', () => {
    const payload = renderMessage(
      [
        {
          dedup_key: 'jobs_volume/threshold',
          alert_kind: 'threshold',
          transition: 'firing',
          check: 'jobs_volume',
          status: 'fail',
          previous: 'pass',
          severity: 'critical',
          route: 'default',
          opened_at: '2026-12-01T09:00:00Z',
          last_notified_at: null,
          result,
        },
      ],
      {
        run_id: 'r',
        trigger: 'cron',
        started_at: '2026-12-01T09:00:00Z',
        database: 'db',
        checks: [],
      },
    )
    const text = JSON.stringify(payload)
    expect(text).toContain('Value *79* · expected 162.1–197.9')
    expect(text).not.toContain('fail above')
    expect(text).toContain('79 (expected 162.1–197.9) ██▇▇██▁')
  })
})
