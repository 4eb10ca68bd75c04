// stale_keys with `sample: { percent }`: an estimate from TABLESAMPLE SYSTEM
// with its error bound, on PGlite and real PostgreSQL; and the catalog rules
// for `sample` and `incremental`.

import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../../checks/catalog.ts'
import { measureCheck } from '../../../checks/store.ts'
import { DqError } from '../../../kernel/errors.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

// 20 000 rows over ~100 pages (a wide filler column); every 4th key is stale,
// so every page holds about a quarter of stale rows.
const FIXTURE = `
create schema smp;
create table smp.keys (id int primary key, name text, key text, filler text);
insert into smp.keys
  select n, 'N' || n, case when n % 4 = 0 then 'stale' else 'n' || n end, repeat('x', 300)
  from generate_series(1, 20000) n;
analyze smp.keys;
create view smp.keys_v as select * from smp.keys;
create table smp.empty (id int, name text, key text);
`
const FORMULA = "'n' || substr(name, 2)"

describe.each(engines())('sampled stale_keys on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(
      database().db,
      spec({ kind: 'stale_keys', table: 'smp.keys', key: 'key', formula: FORMULA, ...input }),
      RUN,
    )

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('100 %: every page, so the exact figures and no error', async () => {
    const full = await run({})
    const sampled = await run({ sample: { percent: 100 } })
    expect(full.value).toBe(5000)
    expect(sampled.value).toBe(full.value)
    expect(sampled.details).toMatchObject({
      rows: 20000,
      mismatched: 5000,
      missing: 0,
      unexpected: 0,
      ratio: 0.25,
      scope: 'sample',
      sample_percent: 100,
      sampled_rows: 20000,
      ratio_error: 0,
    })
    expect(sampled.details.sampled_pages).toBeGreaterThan(50)
  })

  it('20 %: an estimate near the true ratio, with a small error bound and real offenders', async () => {
    const m = await run({ sample: { percent: 20 } })
    expect(m.details.scope).toBe('sample')
    const sampledRows = Number(m.details.sampled_rows)
    expect(sampledRows).toBeGreaterThan(0)
    expect(sampledRows).toBeLessThan(20000)
    expect(Math.abs(Number(m.details.ratio) - 0.25)).toBeLessThan(0.02)
    expect(Number(m.details.ratio_error)).toBeGreaterThanOrEqual(0)
    expect(Number(m.details.ratio_error)).toBeLessThan(0.05)
    // Counts are scaled up from the sampled rows.
    expect(m.details.rows).toBe(Math.round((sampledRows * 100) / 20))
    expect(m.sample.length).toBeGreaterThan(0)
    expect(m.sample.length).toBeLessThanOrEqual(5)
    for (const entry of m.sample as { stored: string; expected: string }[]) {
      expect(entry.stored).toBe('stale')
      expect(entry.stored).not.toBe(entry.expected)
    }
  })

  it('an empty table: zeros and no error bound', async () => {
    const m = await run({ table: 'smp.empty', sample: { percent: 10 } })
    expect(m.value).toBe(0)
    expect(m.details).toMatchObject({ rows: 0, ratio: 0, sampled_rows: 0, ratio_error: null })
    expect(m.sample).toEqual([])
  })

  it('a view cannot be sampled: the error says what to do', async () => {
    const error = await rejection(run({ table: 'smp.keys_v', sample: { percent: 10 } }))
    expect(error.message).toContain('check field "sample"')
    expect(error.message).toContain('view')
  })

  it('the database refuses sample with incremental even if the catalog is bypassed', async () => {
    const check = spec({
      kind: 'stale_keys',
      table: 'smp.keys',
      key: 'key',
      formula: FORMULA,
      sample: { percent: 10 },
    })
    const error = await rejection(
      measureCheck(database().db, { ...check, incremental: { column: 'now()' } } as never, RUN),
    )
    expect(error.message).toContain('"sample" and "incremental"')
  })
})

describe('catalog: sample and incremental', () => {
  const issues = (check: Record<string, unknown>) => {
    try {
      parseCatalog({ checks: [{ name: 'x', ...check }] })
    } catch (error) {
      if (error instanceof DqError) return (error.details as { path: string }[]).map((i) => i.path)
      throw error
    }
    return []
  }
  const stale = { kind: 'stale_keys', table: 't', key: 'k', formula: 'f' }

  it('accepts sample on stale_keys and incremental on the three kinds', () => {
    expect(issues({ ...stale, sample: { percent: 1 } })).toEqual([])
    expect(
      issues({ ...stale, incremental: { column: 'updated_at', fullEvery: '24 hours' } }),
    ).toEqual([])
    expect(
      issues({ kind: 'duplicates', table: 't', columns: ['a'], incremental: { column: 'u' } }),
    ).toEqual([])
    expect(
      issues({
        kind: 'coverage_gap',
        source: { table: 's', key: 'id' },
        target: { table: 't', key: 'sid' },
        incremental: { column: 'u', lookback: '5 minutes' },
      }),
    ).toEqual([])
  })

  it('rejects a percent out of (0, 100], both together, and the fields on other kinds', () => {
    expect(issues({ ...stale, sample: { percent: 0 } })).toEqual(['checks[0].sample.percent'])
    expect(issues({ ...stale, sample: { percent: 101 } })).toEqual(['checks[0].sample.percent'])
    expect(
      issues({ ...stale, sample: { percent: 1 }, incremental: { column: 'updated_at' } }),
    ).toEqual(['checks[0].sample'])
    expect(issues({ ...stale, incremental: { column: 'u', fullEvery: 'daily' } })).toEqual([
      'checks[0].incremental.fullEvery',
    ])
    expect(
      issues({ kind: 'duplicates', table: 't', columns: ['a'], sample: { percent: 1 } }),
    ).toEqual(['checks[0]'])
    expect(
      issues({ kind: 'trigger', table: 't', incremental: { column: 'updated_at' } }),
    ).not.toEqual([])
  })
})
