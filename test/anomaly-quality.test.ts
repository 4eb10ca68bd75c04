// Detection quality of the volume test, measured: thousands of seeded series
// run through the real SQL (dq.volume_test, what dq.kind_volume calls on its
// bucket counts), every series in one query. It asserts the goals of issue 13
// and that the README's "Detection quality" table is the one it measures
// (rerun it and paste the table it prints when the test changes).
import { readFile } from 'node:fs/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { engines, useDatabase } from './support/databases.ts'

const SERIES = 1000
const SEED = 13
/** Noise: Gaussian, its standard deviation this share of the expected count. */
const NOISE = 0.08
/** Mon..Sun, as a share of the series' level: busy weekdays, quiet weekends. */
const WEEK = [1.0, 1.05, 1.1, 1.05, 0.95, 0.45, 0.35]

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws (Box–Muller) from a uniform source. */
function gaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
}

type Scenario = {
  id: string
  series: string
  seasonality: 'none' | 'day_of_week'
  training: string
  last: string
  goal?: { max?: number; min?: number }
  /** Bucket counts, newest first (counts[0] is the bucket tested). */
  counts: number[][]
  period: number
  leaveOut: boolean
}

/** The series, all from one seed: each scenario changes the same base series. */
function scenarios(): Scenario[] {
  const uniform = mulberry32(SEED)
  const normal = gaussian(uniform)
  const noisy = (expected: number) => Math.max(0, Math.round(expected * (1 + NOISE * normal())))
  // Stationary hourly: 30 days (720 hours); the last 169 are the tested hour and its 168 training hours.
  const hourly = Array.from({ length: SERIES }, () => {
    const level = 50 + 950 * uniform()
    return Array.from({ length: 720 }, () => noisy(level))
      .slice(-169)
      .reverse()
  })
  // Weekly-seasonal daily: 16 weeks (112 days), the last day tested; each series starts on its own weekday.
  const daily = Array.from({ length: SERIES }, () => {
    const level = 200 + 4800 * uniform()
    const start = Math.floor(7 * uniform())
    return Array.from({ length: 112 }, (_, d) =>
      noisy(level * (WEEK[(start + d) % 7] ?? 1)),
    ).reverse()
  })
  const drop =
    (share: number, ...buckets: number[]) =>
    (counts: number[]) =>
      counts.map((n, k) => (buckets.includes(k) ? Math.round(n * (1 - share)) : n))
  const hourlyCase = (id: string, last: string, counts: number[][], goal?: Scenario['goal']) => ({
    id,
    series: 'stationary hourly, 30 days',
    seasonality: 'none' as const,
    training: '168 hours',
    last,
    counts,
    period: 1,
    leaveOut: true,
    ...(goal ? { goal } : {}),
  })
  const dailyCase = (
    id: string,
    seasonality: Scenario['seasonality'],
    last: string,
    counts: number[][],
    options: { goal?: Scenario['goal']; leaveOut?: boolean; weeks?: number } = {},
  ) => {
    // With day_of_week, the 15 same weekdays before (or `weeks` of them); without, the default 28 days.
    const weeks = options.weeks ?? 15
    const days = seasonality === 'day_of_week' ? 7 * weeks : 28
    return {
      id,
      series: 'weekly-seasonal daily, 16 weeks',
      seasonality,
      training:
        seasonality === 'day_of_week'
          ? `${days} days (${weeks} same weekdays${weeks === 8 ? ', the default' : ''})`
          : `${days} days`,
      last,
      counts: counts.map((c) => c.slice(0, days + 1)),
      period: seasonality === 'day_of_week' ? 7 : 1,
      leaveOut: options.leaveOut ?? true,
      ...(options.goal ? { goal: options.goal } : {}),
    }
  }
  return [
    hourlyCase('hourly', 'normal', hourly, { max: 0.005 }),
    hourlyCase('hourly_drop50', '50 % drop', hourly.map(drop(0.5, 0)), { min: 0.99 }),
    hourlyCase('hourly_drop20', '20 % drop', hourly.map(drop(0.2, 0))),
    hourlyCase('hourly_after_drop', 'normal, an hour after a 50 % drop', hourly.map(drop(0.5, 1)), {
      max: 0.005,
    }),
    hourlyCase(
      'hourly_drop_after_drop',
      '50 % drop, an hour after one',
      hourly.map(drop(0.5, 0, 1)),
      {
        min: 0.99,
      },
    ),
    dailyCase('daily_dow', 'day_of_week', 'normal', daily, { goal: { max: 0.015 } }),
    // A day_of_week check's default training (8 weeks): reported, as what a check gets untuned.
    dailyCase('daily_dow_default', 'day_of_week', 'normal', daily, { weeks: 8 }),
    dailyCase('daily_flat', 'none', 'normal', daily),
    dailyCase('daily_dow_drop50', 'day_of_week', '50 % drop', daily.map(drop(0.5, 0)), {
      goal: { min: 0.99 },
    }),
    dailyCase('daily_flat_drop50', 'none', '50 % drop', daily.map(drop(0.5, 0))),
    dailyCase('daily_dow_drop20', 'day_of_week', '20 % drop', daily.map(drop(0.2, 0))),
    dailyCase(
      'daily_dow_after_drop',
      'day_of_week',
      'normal, a week after a 50 % drop',
      daily.map(drop(0.5, 7)),
      { goal: { max: 0.015 } },
    ),
    dailyCase(
      'daily_dow_drop_after_drop',
      'day_of_week',
      '50 % drop, a week after one',
      daily.map(drop(0.5, 0, 7)),
      { goal: { min: 0.99 } },
    ),
    dailyCase(
      'daily_dow_drop_after_drop_kept',
      'day_of_week',
      '50 % drop, a week after one, that one kept in training',
      daily.map(drop(0.5, 0, 7)),
      { leaveOut: false },
    ),
  ]
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`

/** The README table: one row per scenario. */
function qualityTable(cases: Scenario[], alarms: Map<string, number>): string {
  const rows = cases.map((c) => {
    const share = (alarms.get(c.id) ?? 0) / SERIES
    const goal =
      c.goal?.max !== undefined
        ? `≤ ${percent(c.goal.max)}`
        : c.goal?.min !== undefined
          ? `≥ ${percent(c.goal.min)}`
          : ''
    const kept = c.leaveOut ? '' : ' (not left out)'
    const count = (alarms.get(c.id) ?? 0).toLocaleString('en-US')
    return `| ${c.series} | ${c.seasonality} | ${c.training} | ${c.last}${kept} | ${count} (${percent(share)}) | ${goal} |`
  })
  return [
    '| series (1,000 each) | seasonality | training | last bucket | alarmed | goal |',
    '| --- | --- | --- | --- | ---: | ---: |',
    ...rows,
  ].join('\n')
}

describe.each(engines())('detection quality of the volume test on %s', (engine) => {
  const database = useDatabase(engine)
  const cases = scenarios()
  const alarms = new Map<string, number>()
  const untested = new Map<string, number>()

  beforeAll(async () => {
    await database().exec(`create schema quality;
      create table quality.series (scenario text, series int, period int, leave_out boolean, counts numeric[]);`)
    for (const c of cases) {
      const values = c.counts.map(
        (counts, i) => `('${c.id}', ${i}, ${c.period}, ${c.leaveOut}, '{${counts.join(',')}}')`,
      )
      await database().exec(`insert into quality.series values ${values.join(',\n')}`)
    }
    // Every series of every scenario in one query, through the SQL the volume kind runs.
    const rows = await database().query<{ scenario: string; alarmed: number; untested: number }>(`
      select scenario,
             count(*) filter (where (t ->> 'anomalous')::boolean)::int as alarmed,
             count(*) filter (where t ->> 'reason' is not null)::int as untested
      from (select scenario,
                   dq.volume_test(counts, period, dq.anomaly_settings('{}', ''), leave_out) as t
            from quality.series) s
      group by scenario`)
    for (const row of rows) {
      alarms.set(row.scenario, row.alarmed)
      untested.set(row.scenario, row.untested)
    }
  }, 120_000)

  it('every series had enough training: no pass came from insufficient_training', () => {
    expect(untested.size).toBe(cases.length)
    for (const c of cases) expect(untested.get(c.id), c.id).toBe(0)
  })

  it.each(cases.filter((c) => c.goal).map((c) => [c.id, c] as const))(
    '%s meets its goal',
    (_id, c) => {
      const share = (alarms.get(c.id) ?? 0) / SERIES
      if (c.goal?.max !== undefined) expect(share).toBeLessThanOrEqual(c.goal.max)
      if (c.goal?.min !== undefined) expect(share).toBeGreaterThanOrEqual(c.goal.min)
    },
  )

  it('the README reports these figures', async () => {
    const table = qualityTable(cases, alarms)
    console.info(`Detection quality (seed ${SEED}):\n${table}`)
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    expect(readme).toContain(table)
  })
})
