// Every figure of SCENARIOS.md, from the demo catalog on the seeded database,
// on PGlite and on real PostgreSQL.

import { describe, expect, it } from 'vitest'
import { loadCatalog } from '../checks/load-catalog.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { checkHistory, measureCheck } from '../checks/store.ts'
import { engines, useDatabase } from './support/databases.ts'
import { named, useDemoRun } from './support/demo-run.ts'

// The checks of sections 1-5; sections 7-9 are asserted in incidents-more.test.ts.
const SECTIONS_1_TO_5 = [
  'pwh_experience_key_stale',
  'pwh_natural_key_duplicates',
  'pwh_multiple_current_rows',
  'companyenrich_company_updated_at_trigger',
  'company_canonical_updated_at_trigger',
  'person_experience_sync_trigger',
  'updated_at_triggers',
  'breezeway_task_comments_duplicates',
  'breezeway_task_photos_duplicates',
  'breezeway_task_tags_duplicates',
  'person_experience_to_core_gap',
  'company_funding_gap',
  'jobs_raw_vs_enriched',
]

describe.each(engines())('the five incidents on %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  const { result, names } = useDemoRun(database, named(SECTIONS_1_TO_5))

  it('ran every check without error', () => {
    expect(names().sort()).toEqual([...SECTIONS_1_TO_5].sort())
    expect(names().filter((name) => result(name).status === 'error')).toEqual([])
  })

  describe('1. stale derived keys behind a unique index', () => {
    it('stale_keys: 8000 mismatched, 346 unexpected, 0 missing of 10000', () => {
      const r = result('pwh_experience_key_stale')
      expect(r.value).toBe(8346)
      expect(r.status).toBe('fail')
      expect(r.details).toEqual({
        rows: 10000,
        mismatched: 8000,
        missing: 0,
        unexpected: 346,
        ratio: 0.8346,
      })
      expect(r.sample).toHaveLength(5)
      for (const entry of r.sample as {
        id: number
        stored: string | null
        expected: string | null
      }[]) {
        expect(entry.stored).not.toBe(entry.expected)
      }
    })

    it('duplicates on the natural key: 180 groups, 220 extra rows, no unique index', () => {
      const r = result('pwh_natural_key_duplicates')
      expect(r.details).toMatchObject({ groups: 180, extra_rows: 220, unique_index: false })
      expect(r.value).toBe(220)
    })

    it('the naitikpanchal group: two rows with different experience_keys', async () => {
      const rows = await database().query<{ experience_key: string }>(
        `select experience_key from core.person_work_history
         where linkedin_url = 'linkedin.com/in/naitikpanchal'
           and company_domain = 'womennovators.com' and lower(trim(title)) = 'mentor'`,
      )
      expect(rows).toHaveLength(2)
      expect(rows[0]?.experience_key).not.toBe(rows[1]?.experience_key)
      // ...and the check sees it: only that group, by the id-sample lookup of the same engine.
      const catalog = await loadCatalog({ path: 'checks/catalog.json' })
      const [check] = selectChecks(catalog, { names: ['pwh_natural_key_duplicates'] })
      if (!check) throw new Error('missing check')
      const narrowed = {
        ...check,
        where: `company_domain is not null and linkedin_url = 'linkedin.com/in/naitikpanchal'`,
      }
      const m = await measureCheck(database().db, narrowed, { timeoutSeconds: 60 })
      expect(m.details).toMatchObject({ groups: 1, extra_rows: 1 })
      expect(m.sample).toEqual([
        expect.objectContaining({
          linkedin_url: 'linkedin.com/in/naitikpanchal',
          company_domain: 'womennovators.com',
          'lower(trim(title))': 'mentor',
          rows: 2,
          ids: [expect.any(Number), expect.any(Number)],
        }),
      ])
    })

    it('several current rows: 970 people (918 with 2-5, 47 with 6-20, 5 with more than 20)', async () => {
      const r = result('pwh_multiple_current_rows')
      expect(r.details).toMatchObject({ groups: 970, unique_index: false })
      expect(r.details.largest_group as number).toBeGreaterThan(20)
      const buckets = await database().query<{ bucket: string; people: number }>(
        `select case when n = 1 then 'one' when n <= 5 then '2-5' when n <= 20 then '6-20' else '>20' end as bucket,
                count(*)::int as people
         from (select linkedin_url, count(*) as n from core.person_work_history
               where is_current group by linkedin_url) g
         group by 1`,
      )
      expect(Object.fromEntries(buckets.map((b) => [b.bucket, b.people]))).toEqual({
        one: 273,
        '2-5': 918,
        '6-20': 47,
        '>20': 5,
      })
    })
  })

  describe('2. missing and disabled triggers', () => {
    it('extracted.companyenrich_company has no updated_at trigger', () => {
      const r = result('companyenrich_company_updated_at_trigger')
      expect(r.status).toBe('fail')
      expect(r.details.tables).toEqual([
        { table: 'extracted.companyenrich_company', problem: 'missing', triggers: [] },
      ])
    })

    it('core.company_canonical passes', () => {
      expect(result('company_canonical_updated_at_trigger')).toMatchObject({
        status: 'pass',
        value: 0,
      })
    })

    it('trg_sync_person_experience exists but is disabled', () => {
      const r = result('person_experience_sync_trigger')
      expect(r.value).toBe(1)
      const [table] = r.details.tables as {
        problem: string
        triggers: { name: string; state: string; enabled: boolean }[]
      }[]
      expect(table?.problem).toBe('disabled')
      expect(table?.triggers).toContainEqual(
        expect.objectContaining({
          name: 'trg_sync_person_experience',
          state: 'disabled',
          enabled: false,
        }),
      )
    })

    it('discovery: exactly the tables with updated_at and no enabled BEFORE UPDATE trigger', () => {
      const r = result('updated_at_triggers')
      const tables = r.details.tables as { table: string; problem: string }[]
      expect(tables.map((t) => [t.table, t.problem])).toEqual([
        ['core.person_profile', 'disabled'],
        ['extracted.companyenrich_company', 'missing'],
        ['extracted.linkedin_profile', 'disabled'],
        ['extracted.person_experience', 'missing'],
      ])
      expect(r.value).toBe(4)
      expect(r.details.tables_checked).toBe(8)
    })
  })

  describe('3. duplicate child rows from ON CONFLICT DO NOTHING without a target', () => {
    it('task_comments: 470 groups, 14194 extra of 14664 rows, no unique index', () => {
      const r = result('breezeway_task_comments_duplicates')
      expect(r.value).toBe(14194)
      expect(r.details).toMatchObject({
        rows: 14664,
        groups: 470,
        extra_rows: 14194,
        unique_index: false,
      })
      expect(r.sample).toHaveLength(5)
    })

    it('task_photos: 260 keys, 6893 extra of 7153 rows, no unique index', () => {
      const r = result('breezeway_task_photos_duplicates')
      expect(r.details).toMatchObject({
        rows: 7153,
        keys: 260,
        extra_rows: 6893,
        unique_index: false,
      })
    })

    it('task_tags: clean, covered by its unique constraint', () => {
      const r = result('breezeway_task_tags_duplicates')
      expect(r).toMatchObject({ status: 'pass', value: 0, sample: [] })
      expect(r.details.unique_index).toBe(true)
    })
  })

  describe('4. extracted -> core coalescing gap', () => {
    it('person_experience -> person_work_history: 150 of 3000 missing', () => {
      const r = result('person_experience_to_core_gap')
      expect(r.details).toEqual({ source_rows: 3000, missing: 150, ratio: 0.05 })
      expect(r.status).toBe('fail')
    })

    it('company_discovery -> company_funding: 960 of 5000 missing', () => {
      const r = result('company_funding_gap')
      expect(r.details).toEqual({ source_rows: 5000, missing: 960, ratio: 0.192 })
    })
  })

  describe('5. raw vs enriched', () => {
    it('409 raw, 197 keys, 212 collapsed, 79 matched, 118 lost', () => {
      const r = result('jobs_raw_vs_enriched')
      expect(r.details).toMatchObject({
        raw_rows: 409,
        distinct_keys: 197,
        collapsed: 212,
        null_key_rows: 0,
        matched_keys: 79,
        lost_keys: 118,
        lost_rows: 118,
      })
      expect(r.value).toBe(118)
    })
  })

  it('records the run in history', async () => {
    const history = await checkHistory(database().db, 'pwh_experience_key_stale', 5)
    expect(history[0]).toMatchObject({
      check: 'pwh_experience_key_stale',
      status: 'fail',
      value: 8346,
    })
  })
})
