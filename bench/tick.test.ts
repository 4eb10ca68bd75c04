// The hourly tick's benchmark end to end at a tiny size, in a database of its
// own on the test server: a first tick scans every table, the next answers
// the unchanged ones from it and scans the changed ones. Timings are never
// asserted (they measure the machine).
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { engines, TEST_DATABASE_URL } from '../test/support/databases.ts'
import { renderTickMarkdown, runTickBenchmark, TickBenchReportSchema } from './tick.ts'

describe.skipIf(!engines().includes('postgres'))('npm run bench -- --tick, tiny', () => {
  const name = `dq_bench_k${process.pid}_${Math.random().toString(36).slice(2, 6)}`

  afterAll(async () => {
    const admin = postgres(TEST_DATABASE_URL as string, { max: 1, onnotice: () => {} })
    await admin.unsafe(`drop database if exists ${name}_tick with (force)`)
    await admin.end()
  })

  it('scans every table first, then only the changed ones', async () => {
    const url = new URL(TEST_DATABASE_URL as string)
    url.pathname = `/${name}`
    const report = await runTickBenchmark({
      databaseUrl: url.toString(),
      tables: 6,
      rows: 100,
      changedPercent: 50,
      samples: 3,
    })
    expect(TickBenchReportSchema.parse(report)).toEqual(report)
    expect(report).toMatchObject({
      checks: 6,
      changed_tables: 3,
      full: { scanned: 6 },
      tick: { scanned: 3, unchanged: 3 },
    })
    expect(renderTickMarkdown(report)).toContain('| cron tick (scan: changed), median | 3 | 3 |')
  })
})
