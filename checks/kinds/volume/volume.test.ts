// The volume kind on every engine: buckets, training, the z-score test, its
// options, and that an index on the time column serves the scan.
import postgres from 'postgres'
import { beforeAll, describe, expect, it } from 'vitest'
import { catalogIssues, RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'
import { parseCatalog } from '../../catalog.ts'
import { keyFigure } from '../../result.ts'
import { runCheck } from '../../run-checks.ts'
import { measureCheck } from '../../store.ts'

type Details = Record<string, unknown> & {
  count: number
  mean: number
  stddev: number
  z: number | null
  low: number
  high: number
  training_buckets: number
  left_out: number
  anomalous: boolean
  reason: string | null
  recent: number[]
}

/** Sample mean and standard deviation, as the expected figures. */
function stats(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
  return { mean, sd }
}

describe.each(engines())('volume on %s', (engine) => {
  const database = useDatabase(engine)

  /**
   * A table whose bucket k (of `size`, ending at now() − grace) holds
   * counts[k] rows, each in the middle of its bucket.
   */
  async function table(
    name: string,
    counts: number[],
    options: { size?: string; grace?: string; column?: string } = {},
  ) {
    const size = options.size ?? '1 day'
    const grace = options.grace ?? '0 seconds'
    await database().exec(`
      create table vol.${name} (id serial primary key, at ${options.column ?? 'timestamptz'} not null, tag text);
      insert into vol.${name} (at, tag)
      select now() - interval '${grace}' - (u.k - 1 + 0.5) * interval '${size}', case when j % 2 = 0 then 'even' else 'odd' end
      from unnest(array[${counts.join(',')}]::int[]) with ordinality as u(n, k), generate_series(1, u.n) as j;`)
  }

  const volume = (name: string, extra: Record<string, unknown> = {}) =>
    spec({ kind: 'volume', table: `vol.${name}`, time: 'at', bucket: 'day', ...extra })

  beforeAll(async () => {
    await database().exec('create schema vol')
  })

  it('tests the latest day against the training days: figures, fail, threshold null', async () => {
    const training = [100, 102, 98, 101, 99, 100, 103, 97, 100, 100]
    await table('daily', [50, ...training])
    const check = volume('daily', { training: 10 })
    const result = await runCheck(database().db, check)
    expect(result).toMatchObject({ status: 'fail', value: 50, threshold: null, sample: [] })
    const d = result.details as Details
    const { mean, sd } = stats(training)
    expect(d.count).toBe(50)
    expect(d.mean).toBeCloseTo(mean, 4)
    expect(d.stddev).toBeCloseTo(sd, 4)
    expect(d.z).toBeCloseTo((50 - mean) / sd, 2)
    expect(d.low).toBeCloseTo(mean - 3 * sd, 3)
    expect(d.high).toBeCloseTo(mean + 3 * sd, 3)
    expect(d).toMatchObject({ training_buckets: 10, left_out: 0, anomalous: true, reason: null })
    expect(d.recent).toEqual([100, 99, 101, 98, 102, 100, 50])
    expect(keyFigure(result)).toMatch(
      /^50 \(expected 9\d\.\d–10\d\.\d\) [▁-█]{7}; z −\d+\.\d\d against 10 days: a drop$/,
    )
    // A normal day passes.
    await table('daily_ok', [100, ...training])
    expect((await runCheck(database().db, volume('daily_ok', { training: 10 }))).status).toBe(
      'pass',
    )
  })

  it('counts empty training buckets as zero', async () => {
    const training = [10, 12, 0, 11, 9, 10, 11, 0, 10, 12]
    await table('gaps', [10, ...training])
    const m = await measureCheck(database().db, volume('gaps', { training: 10 }), RUN)
    const d = m.details as Details
    expect(d.training_buckets).toBe(10)
    expect(d.mean).toBeCloseTo(stats(training).mean, 4)
    expect(d.stddev).toBeCloseTo(stats(training).sd, 4)
  })

  it('a new table never alarms: fewer non-empty training buckets than minTraining pass', async () => {
    await table('young', [500, 10, 11, 9, 0, 0, 0, 0, 0, 0, 0])
    const result = await runCheck(database().db, volume('young', { training: 10 }))
    expect(result.status).toBe('pass')
    expect(result.details).toMatchObject({ anomalous: false, reason: 'insufficient_training' })
    expect(keyFigure(result)).toBe(
      '500 rows in the last day; not tested: fewer than 7 non-empty training days',
    )
    // ...and minTraining says how many are enough.
    const lower = await runCheck(database().db, volume('young', { training: 10, minTraining: 3 }))
    expect(lower.status).toBe('fail')
  })

  it('direction: a spike fails "both" and "spike", passes "drop"', async () => {
    await table('spiky', [300, 100, 102, 98, 101, 99, 100, 103, 97, 100, 100])
    const status = async (direction: string) =>
      (await runCheck(database().db, volume('spiky', { training: 10, direction }))).status
    expect(await status('both')).toBe('fail')
    expect(await status('spike')).toBe('fail')
    expect(await status('drop')).toBe('pass')
  })

  it('seasonality day_of_week compares the same weekday only', async () => {
    // Eight weeks, weekdays about 100 and weekends about 10; bucket 0 is a weekday at 55.
    const week = [100, 98, 102, 101, 99, 10, 12]
    const days = Array.from({ length: 57 }, (_, k) => (week[k % 7] ?? 0) + (k % 3))
    days[0] = 55
    await table('weekly', days)
    const seasonal = await runCheck(
      database().db,
      volume('weekly', { training: 56, seasonality: 'day_of_week' }),
    )
    expect(seasonal.status).toBe('fail')
    expect(seasonal.details.training_buckets).toBe(8)
    const flat = await runCheck(database().db, volume('weekly', { training: 56 }))
    expect(flat.status).toBe('pass') // the weekends widen the range enough to hide it
    expect(flat.details.training_buckets).toBe(56)
  })

  it('leaves an anomalous training bucket out, so it does not poison the next ones', async () => {
    const training = [100, 102, 98, 101, 99, 100, 103, 97, 100, 100]
    await table('poisoned', [50, 45, ...training])
    const d = (await measureCheck(database().db, volume('poisoned', { training: 11 }), RUN))
      .details as Details
    expect(d.left_out).toBe(1)
    expect(d.training_buckets).toBe(10)
    expect(d.mean).toBeCloseTo(stats(training).mean, 4)
    expect(d.anomalous).toBe(true)
  })

  it('hour buckets, grace and where: rows inside the grace period are not counted', async () => {
    await table('hourly', [7, ...Array.from({ length: 24 }, () => 20)], {
      size: '1 hour',
      grace: '2 hours',
    })
    // rows in the grace period (the last 2 hours) never count
    await database().exec(
      `insert into vol.hourly (at, tag) select now() - interval '30 minutes', 'even' from generate_series(1, 50)`,
    )
    const m = await measureCheck(
      database().db,
      volume('hourly', { bucket: 'hour', grace: '2 hours', training: 24 }),
      RUN,
    )
    expect(m.value).toBe(7)
    expect(m.details).toMatchObject({ bucket: 'hour', training_buckets: 24, stddev: 0 })
    const evens = await measureCheck(
      database().db,
      volume('hourly', { bucket: 'hour', grace: '2 hours', training: 24, where: "tag = 'even'" }),
      RUN,
    )
    expect(evens.value).toBe(3)
    expect(evens.details.mean).toBe(10)
  })

  it('timestamp and date columns work too', async () => {
    await table('naive', [5, 10, 10, 10, 10, 10, 10, 10], { column: 'timestamp' })
    const naive = await measureCheck(database().db, volume('naive', { training: 7 }), RUN)
    expect(naive.value).toBe(5)
    // A date is its midnight: each rolling day holds exactly one.
    await database().exec(`
      create table vol.dated (at date not null);
      insert into vol.dated select current_date - (u.k - 1)::int
      from unnest(array[5, 10, 10, 10, 10, 10, 10, 10]) with ordinality as u(n, k), generate_series(1, u.n);`)
    const dated = await measureCheck(database().db, volume('dated', { training: 7 }), RUN)
    expect(dated.value).toBe(5)
    expect(dated.details).toMatchObject({ training_buckets: 7, mean: 10 })
  })

  it('errors name the field', async () => {
    await table('typed', [1])
    const wrongType = await rejection(
      measureCheck(database().db, volume('typed', { time: 'tag' }), RUN),
    )
    expect(wrongType.message).toContain('check field "time": tag is text')
    const missing = await rejection(
      measureCheck(database().db, volume('typed', { time: 'nope' }), RUN),
    )
    expect(missing.message).toContain('check field "time"')
  })
})

describe('the volume catalog entry', () => {
  const base = { name: 'v', kind: 'volume', table: 't.a', time: 'at', bucket: 'day' }

  it('refuses a threshold, naming the field, and an anomaly option', () => {
    expect(catalogIssues({ ...base, threshold: { fail: 10 } })).toEqual([
      {
        path: 'checks[0].threshold',
        message: expect.stringContaining('anomaly test, not a threshold'),
      },
    ])
    expect(catalogIssues({ ...base, anomaly: {} })).toEqual([
      { path: 'checks[0].anomaly', message: expect.stringContaining('anomaly test already') },
    ])
  })

  it('resolves to threshold null, even with a threshold in the defaults', () => {
    const { checks } = parseCatalog({ defaults: { threshold: { fail: 1 } }, checks: [base] })
    expect(checks[0]?.threshold).toBeNull()
  })

  it('refuses a training too short for the seasonality and a bucket that is not hour or day', () => {
    expect(catalogIssues({ ...base, seasonality: 'day_of_week', training: 28 })).toEqual([
      { path: 'checks[0].training', message: expect.stringContaining('give at least 49') },
    ])
    expect(catalogIssues({ ...base, bucket: 'week' })).toEqual([
      { path: 'checks[0].bucket', message: 'must be "hour" or "day"' },
    ])
    expect(catalogIssues({ ...base, sensitivity: 0 }).map((i) => i.path)).toEqual([
      'checks[0].sensitivity',
    ])
  })
})

describe.skipIf(!engines().includes('postgres'))('volume reads only the training period', () => {
  const database = useDatabase('postgres')

  /** The plan of the bucket scan inside dq.kind_volume, from auto_explain (sent as a NOTICE). */
  async function scanPlan(table: string): Promise<string> {
    const notices: string[] = []
    const sql = postgres(database().url as string, {
      max: 1,
      onnotice: (n) => notices.push(String(n.message)),
    })
    try {
      await sql.unsafe(`load 'auto_explain'; set auto_explain.log_min_duration = 0;
        set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice`)
      const check = { name: 'v', kind: 'volume', table, time: 'at', bucket: 'day', training: 28 }
      await sql`select dq.run_check(${sql.json(check)})`
    } finally {
      await sql.end()
    }
    const plan = notices.find((n) => n.includes(`from ${table} as dq_t`) && n.includes('group by'))
    if (!plan) throw new Error(`no plan for the scan of ${table} among ${notices.length} notices`)
    return plan
  }

  beforeAll(async () => {
    // Two years of hourly rows: the 29 days a daily check reads are 4 % of them.
    await database().exec(`
      create schema vol;
      create table vol.indexed (id serial primary key, at timestamptz not null);
      insert into vol.indexed (at) select now() - g * interval '1 hour' from generate_series(0, 17520) g;
      create index indexed_at_idx on vol.indexed (at);
      create table vol.unindexed as select * from vol.indexed;
      analyze vol.indexed; analyze vol.unindexed;`)
  })

  it('through the index on the time column, with the training period as its range', async () => {
    const plan = await scanPlan('vol.indexed')
    expect(plan).toMatch(
      /Index (Only )?Scan using indexed_at_idx|Bitmap Index Scan on indexed_at_idx/,
    )
    expect(plan).toMatch(/Index Cond: \(\(at > .*\) AND \(at <= .*\)\)/)
  })

  it('without one, a sequential scan filtered on the same range', async () => {
    const plan = await scanPlan('vol.unindexed')
    expect(plan).toContain('Seq Scan on unindexed')
    expect(plan).not.toContain('Index')
  })
})
