// The status page's benchmark end to end at a tiny size, in a database of its
// own on the test server: it generates the history, renders every page and
// reports each. Timings are never asserted (they measure the machine).
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { engines, TEST_DATABASE_URL } from '../test/support/databases.ts'
import {
  renderStatusMarkdown,
  runStatusPageBenchmark,
  StatusBenchReportSchema,
} from './status-page.ts'

describe.skipIf(!engines().includes('postgres'))('npm run bench -- --status-page, tiny', () => {
  const name = `dq_bench_t${process.pid}_${Math.random().toString(36).slice(2, 6)}`

  afterAll(async () => {
    const admin = postgres(TEST_DATABASE_URL as string, { max: 1, onnotice: () => {} })
    await admin.unsafe(`drop database if exists ${name}_status with (force)`)
    await admin.end()
  })

  it('generates the history, renders each page, reports them', async () => {
    const url = new URL(TEST_DATABASE_URL as string)
    url.pathname = `/${name}`
    const report = await runStatusPageBenchmark({
      databaseUrl: url.toString(),
      checks: 12,
      days: 2,
      runs: 1,
      warmup: 0,
    })
    expect(StatusBenchReportSchema.parse(report)).toEqual(report)
    // Four of the twelve (its coverage_gap checks) come from the registry's generator.
    expect(report).toMatchObject({ checks: 12, generated: 4, days: 2, results: 12 * 48 })
    // Two days of 6-hour buckets: 8 or 9 per check, as the hours fall.
    expect(report.buckets).toBeGreaterThanOrEqual(12 * 8)
    expect(report.buckets).toBeLessThanOrEqual(12 * 9)
    expect(report.pages.map((p) => p.id)).toEqual([
      'overview',
      'overview_sql',
      'overview_render',
      'overview_filtered',
      'check',
      'coverage',
    ])
    for (const page of report.pages) expect(page.bytes).toBeGreaterThan(1000)
    // Each page one dq.* call, the generator expanded inside it; rendering none.
    expect(Object.fromEntries(report.pages.map((p) => [p.id, p.calls]))).toEqual({
      overview: 1,
      overview_sql: 1,
      overview_render: 0,
      overview_filtered: 1,
      check: 1,
      coverage: 1,
    })
    expect(renderStatusMarkdown(report)).toContain('| GET / (overview, 12 checks)')
  })
})
