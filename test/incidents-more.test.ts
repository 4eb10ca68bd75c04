// Every figure of SCENARIOS.md sections 7-9 (required fields, freshness, stuck
// runs), from the demo catalog on the seeded database, on PGlite and on real
// PostgreSQL. Sections 1-5 are asserted in incidents.test.ts.

import { describe, expect, it } from 'vitest'
import { loadCatalog } from '../checks/load-catalog.ts'
import { keyFigure } from '../checks/result.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { engines, useDatabase } from './support/databases.ts'
import { named, useDemoRun } from './support/demo-run.ts'

const SECTIONS_7_TO_9 = [
  'lead_profiles_required_fields',
  'lead_profiles_required_fields_null_only',
  'companyenrich_updates_landed',
  'linkedin_profile_freshness',
  'enrichment_runs_stuck',
]

describe.each(engines())('sections 7-9 of the incidents on %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  const { result, names } = useDemoRun(database, named(SECTIONS_7_TO_9))

  it('ran every check of sections 7-9, none in error', () => {
    expect(names().sort()).toEqual([...SECTIONS_7_TO_9].sort())
    expect(names().filter((name) => result(name).status === 'error')).toEqual([])
  })

  describe('7. records hidden because an API-required field is missing', () => {
    it('blank counts as missing: 2900 of 10000 rows (0.29), per field as SCENARIOS says', () => {
      const r = result('lead_profiles_required_fields')
      expect(r.status).toBe('fail')
      expect(r.value).toBe(2900)
      expect(r.details).toEqual({
        rows: 10000,
        missing_any: 2900,
        ratio: 0.29,
        fields: {
          company_name: 300,
          company_country: 1000,
          person_country: 400,
          matched_job_function: 1250,
          matched_seniority: 625,
        },
        blank: true,
      })
      expect(r.sample).toHaveLength(5)
      for (const entry of r.sample as { id: number; missing: string[] }[]) {
        expect(entry.missing.length).toBeGreaterThan(0)
      }
    })

    it('the sample says which fields each row misses', async () => {
      const [row] = await database().query<{ id: number; missing: string[] }>(
        `select id, array_remove(array[
           case when company_name is null or btrim(company_name) = '' then 'company_name' end,
           case when company_country is null then 'company_country' end,
           case when person_country is null then 'person_country' end,
           case when matched_job_function is null then 'matched_job_function' end,
           case when matched_seniority is null then 'matched_seniority' end], null) as missing
         from core.lead_profiles where id = ${(result('lead_profiles_required_fields').sample[0] as { id: number }).id}`,
      )
      expect(result('lead_profiles_required_fields').sample[0]).toEqual({
        id: row?.id,
        missing: row?.missing,
      })
    })

    it('blank not counted: 2850, company_name 250', () => {
      const r = result('lead_profiles_required_fields_null_only')
      expect(r.value).toBe(2850)
      expect(r.details).toMatchObject({
        rows: 10000,
        missing_any: 2850,
        ratio: 0.285,
        fields: {
          company_name: 250,
          company_country: 1000,
          person_country: 400,
          matched_job_function: 1250,
          matched_seniority: 625,
        },
        blank: false,
      })
    })
  })

  describe('8. updates that never landed', () => {
    it('pairwise: 148 of 200 payloads never moved their row, 0 without one (0.74)', () => {
      const r = result('companyenrich_updates_landed')
      expect(r.status).toBe('fail')
      expect(r.value).toBe(148)
      expect(r.details).toEqual({
        source_rows: 200,
        behind: 148,
        missing_target: 0,
        ratio: 0.74,
        // 5 days old against payloads received 30 minutes ago
        max_lag_seconds: 5 * 86400 - 30 * 60,
      })
      for (const entry of r.sample as Record<string, unknown>[]) {
        expect(entry).toEqual({
          domain: expect.any(String),
          source_time: expect.any(String),
          target_time: expect.any(String),
          lag_seconds: 430200,
        })
      }
      expect(r.sample).toHaveLength(5)
    })

    it('table: extracted.linkedin_profile is 72.0 hours old, fail above 48', () => {
      const r = result('linkedin_profile_freshness')
      expect(r.status).toBe('fail')
      expect(r.threshold).toEqual({ warn: 24, fail: 48, metric: 'count' })
      expect(r.value).toBeGreaterThanOrEqual(71.9)
      expect(r.value).toBeLessThanOrEqual(72.1)
      expect(r.details.age_hours).toBe(r.value)
      expect(keyFigure(r)).toMatch(/^newest row 72\.0 h old \(/)
    })
  })

  describe('9. enrichment runs stuck in running', () => {
    it('37 of 1000 runs (0.037); the 5 young running ones do not count', async () => {
      const r = result('enrichment_runs_stuck')
      expect(r.status).toBe('fail')
      expect(r.value).toBe(37)
      expect(r.details).toEqual({ rows: 1000, matching: 37, ratio: 0.037 })
      const [running] = await database().query<{ n: number }>(
        `select count(*)::int as n from reference.enrichment_runs where status = 'running'`,
      )
      expect(running?.n).toBe(42)
      expect(r.sample).toHaveLength(5)
    })
  })

  it("the new tables leave sections 1-5's trigger discovery as it was", async () => {
    const catalog = await loadCatalog({ path: 'checks/catalog.json' })
    const run = await runChecks(
      database().db,
      selectChecks(catalog, { names: ['updated_at_triggers'] }),
      { trigger: 'cli', record: false },
    )
    expect(run.results[0]?.details).toMatchObject({ tables_checked: 8 })
    expect(run.results[0]?.value).toBe(4)
  })
})
