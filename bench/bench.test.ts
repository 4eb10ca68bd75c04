// The benchmark end to end at a tiny scale, in a database of its own on the
// test server: it generates, runs every case and writes a report of the right
// shape. Timings are never asserted (they measure the machine, not the code);
// the answers are, since every contender of a case counts the same incident.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engines, TEST_DATABASE_URL } from '../test/support/databases.ts'
import { type BenchReport, BenchReportSchema, runBenchmark } from './benchmark.ts'
import { renderMarkdown, writeReport } from './report.ts'

describe.skipIf(!engines().includes('postgres'))('npm run bench at scale 0.0005', () => {
  const name = `dq_bench_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  let report: BenchReport

  beforeAll(async () => {
    // Built here, not while collecting: without a server this suite is skipped, and no URL exists.
    const url = new URL(TEST_DATABASE_URL as string)
    url.pathname = `/${name}`
    // runBenchmark creates the database (named dq_bench…) when it is missing.
    report = await runBenchmark({ databaseUrl: url.toString(), scale: 0.0005, runs: 1, warmup: 0 })
  }, 180_000)

  afterAll(async () => {
    const admin = postgres(TEST_DATABASE_URL as string, { max: 1, onnotice: () => {} })
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })

  it('reports every case with its environment and row counts', () => {
    expect(BenchReportSchema.parse(report)).toEqual(report)
    expect(report.cases.map((c) => c.id)).toEqual([
      'duplicates_breezeway',
      'duplicates_work_history',
      'duplicates_current_job',
      'stale_keys',
      'coverage_gap',
      'coverage_gap_unique_target',
      'raw_vs_enriched',
      'trigger',
      'required_fields',
      'freshness_table',
      'freshness_table_indexed',
      'freshness_pairwise',
      'volume',
      'volume_indexed',
      'anomaly',
      'incremental_stale_keys',
      'incremental_duplicates',
      'incremental_coverage_gap',
    ])
    expect(report.environment.settings).toHaveProperty('max_parallel_workers_per_gather')
    expect(report.row_counts['core.person_work_history']).toBe(1300)
    expect(report.row_counts['breezeway.task_comments']).toBe(5000)
    expect(report.row_counts['core.lead_profiles']).toBe(500)
    for (const c of report.cases) {
      expect(c.contenders[0]?.role).toBe('dq')
      expect(c.contenders[0]?.vs_dq).toBe(1)
      expect(c.targets.length).toBeGreaterThan(0)
      for (const x of c.contenders) expect(x.timing.runs_ms).toHaveLength(1)
    }
  })

  it('every contender of a case counts the same incident', () => {
    const answers = (id: string) =>
      Object.fromEntries(
        report.cases.find((c) => c.id === id)?.contenders.map((x) => [x.label, x.answer]) ?? [],
      )
    const breezeway = answers('duplicates_breezeway')
    expect(breezeway['dq duplicates']).toBe('extra_rows 4,985, groups 15')
    expect(breezeway['dbt-utils unique_combination_of_columns']).toBe('groups 15')
    expect(breezeway['Soda duplicate_count']).toBe('groups 15')
    expect(breezeway['count(*) - count(distinct (…))']).toBe('extra_rows 4,985')
    const gap = answers('coverage_gap')
    const missing = gap['NOT EXISTS anti-join']?.replace('missing ', '')
    expect(gap['dq coverage_gap']).toContain(`missing ${missing},`)
    const stale = answers('stale_keys')
    expect(stale['dq stale_keys']).toContain(
      `mismatched ${stale['naive split (formula per FILTER)']?.replace('mismatched ', '')},`,
    )
    const required = answers('required_fields')
    const pass = required['one count(*) pass, same predicates']?.replace('missing_any ', '')
    expect(required['dq required_fields']).toBe(`missing_any ${pass}, rows 500`)
    const nulls = required['one count(*) pass, same predicates, blank: false']?.replace(
      'missing_any ',
      '',
    )
    expect(required['dq required_fields, blank: false']).toBe(`missing_any ${nulls}, rows 500`)
    // 500 rows with the seed's pattern: as many NULLs per field as the moduli say.
    expect(required['dbt not_null × 5 (one query per column)']).toBe('failures 13, 50, 20, 62, 31')
    const pairwise = answers('freshness_pairwise')
    const behind = pairwise['plain join, same shape']?.replace('behind ', '')
    expect(pairwise['dq freshness, pairwise']).toContain(`behind ${behind},`)
    for (const id of ['volume', 'volume_indexed']) {
      const volume = answers(id)
      const rows = volume['count(*) group by bucket']?.replace('bucket 0 rows ', '')
      expect(volume['dq volume']).toContain(`count ${rows},`)
    }
    expect(answers('anomaly')).toMatchObject({
      'dq trigger, with anomaly': 'tables_checked 1, anomaly.training 720',
      'dq.anomaly over 720 results': 'training results 720',
    })
    for (const id of [
      'incremental_stale_keys',
      'incremental_duplicates',
      'incremental_coverage_gap',
    ]) {
      expect(report.cases.find((c) => c.id === id)?.contenders[0]?.answer).toContain(
        'scope incremental',
      )
    }
  })

  it('writes the markdown table and the JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dq-bench-'))
    try {
      const [markdown, json] = await writeReport(report, dir)
      expect(await readFile(markdown as string, 'utf8')).toBe(renderMarkdown(report))
      expect(JSON.parse(await readFile(json as string, 'utf8'))).toEqual(report)
      const text = renderMarkdown(report)
      expect(text).toContain('## Targets')
      expect(text).toContain('| contender | role | answer | min ms | median ms | × dq |')
      expect(text).toContain('max_parallel_workers_per_gather=')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a database that is not its own', async () => {
    const other = new URL(TEST_DATABASE_URL as string)
    other.pathname = '/app'
    await expect(
      runBenchmark({ databaseUrl: other.toString(), scale: 0.0005, runs: 1, warmup: 0 }),
    ).rejects.toThrow(/dq_bench/)
  })
})
