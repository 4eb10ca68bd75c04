// SCENARIOS.md section 10, enrichment volume collapsed: the demo catalog's
// volume check on the seeded database, on PGlite and on real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { loadCatalog } from '../checks/load-catalog.ts'
import { type CheckResult, keyFigure } from '../checks/result.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { checkHistory } from '../checks/store.ts'
import { engines, useDatabase } from './support/databases.ts'

const CHECK = 'enriched_jobs_daily_volume'

describe.each(engines())('10. enrichment volume collapsed on %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  let result: CheckResult

  beforeAll(async () => {
    const catalog = await loadCatalog({ path: 'checks/catalog.json' })
    const run = await runChecks(database().db, selectChecks(catalog, { names: [CHECK] }), {
      trigger: 'cli',
    })
    expect(run.recorded).toBe(true)
    const [only] = run.results
    if (!only) throw new Error(`no result for ${CHECK}`)
    result = only
  })

  it('count 79, training mean 180.0, stddev 5.98, z −16.89, expected 162.1–197.9: fail (drop)', () => {
    expect(result.error).toBeNull()
    expect(result).toMatchObject({ kind: 'volume', status: 'fail', value: 79, threshold: null })
    const d = result.details as Record<string, number | string | boolean | null>
    expect(d.count).toBe(79)
    expect(d.training_buckets).toBe(28)
    expect(d.left_out).toBe(0)
    expect((d.mean as number).toFixed(1)).toBe('180.0')
    expect((d.stddev as number).toFixed(2)).toBe('5.98')
    expect(d.z).toBe(-16.89)
    expect((d.low as number).toFixed(1)).toBe('162.1')
    expect((d.high as number).toFixed(1)).toBe('197.9')
    expect(d.anomalous).toBe(true)
    expect(d.reason).toBeNull()
    expect(d.bucket).toBe('day')
    // bucket 0 is (now − 25 h, now − 1 h]
    const end = Date.parse(d.bucket_end as string)
    expect(end - Date.parse(d.bucket_start as string)).toBe(24 * 3600 * 1000)
    expect(Math.abs(Date.now() - 3600 * 1000 - end)).toBeLessThan(60_000)
  })

  it('every training bucket holds 170 + ((k × 37) mod 21) rows (run 41 counted in bucket 2)', async () => {
    const rows = await database().query<{ k: number; n: number }>(`
      select floor(extract(epoch from (now() - interval '1 hour' - enriched_at)) / 86400)::int as k,
             count(*)::int as n
      from jobs.enriched_jobs
      where enriched_at <= now() - interval '1 hour' and enriched_at > now() - interval '29 days 1 hour'
      group by 1 order by 1`)
    expect(rows).toEqual([
      { k: 0, n: 79 },
      ...Array.from({ length: 28 }, (_, i) => ({ k: i + 1, n: 170 + (((i + 1) * 37) % 21) })),
    ])
  })

  it('the last 7 buckets as a sparkline, with the expected range', () => {
    expect(result.details.recent).toEqual([182, 187, 171, 176, 181, 186, 79])
    expect(keyFigure(result)).toBe(
      '79 (expected 162.1–197.9) ██▇▇██▁; z −16.89 against 28 days: a drop',
    )
  })

  it('history keeps threshold null and reads back', async () => {
    const [last] = await checkHistory(database().db, CHECK, 1)
    expect(last).toMatchObject({ check: CHECK, status: 'fail', value: 79, threshold: null })
    expect(last?.details.z).toBe(-16.89)
  })
})
