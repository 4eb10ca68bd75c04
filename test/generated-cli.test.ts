// Checks generated from the enrichment registry, through the dq command line as a
// user runs it (a separate process against the seeded demo database): validate
// --db lists what the generator expands to, run --check and --tag select a
// generated check like a hand-written one, history reads its results, and a
// registry row that leaves stops its check while its history stays.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUNDLED_CATALOG } from '../checks/load-catalog.ts'
import { SEED_FILE } from '../db/migrations.ts'
import { PGliteDatabase } from '../db/pglite.ts'
import { engines, openTestDatabase } from './support/databases.ts'

const exec = promisify(execFile)

async function dq(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['bin/dq.js', ...args], {
      env: { ...process.env, NO_COLOR: '1', DQ_DATABASE_URL: '', DQ_CATALOG: '', ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

const GENERATED = {
  company_headcount_to_core_gap: [
    'extracted.company_headcount',
    'domain',
    'core.company_headcount',
  ],
  company_news_to_core_gap: ['extracted.company_news', 'domain', 'core.company_news'],
  company_technographics_to_core_gap: [
    'extracted.company_technographics',
    'domain',
    'core.company_technographics',
  ],
  job_postings_to_core_gap: ['extracted.job_postings', 'posting_url', 'core.job_postings'],
  person_discovery_to_core_gap: ['extracted.person_discovery', 'linkedin_url', 'core.people'],
  person_profile_to_core_gap: ['extracted.person_profile', 'linkedin_url', 'core.people'],
} as const

describe.each(engines())('generated checks in the dq CLI on %s', (engine) => {
  let dir: string
  let db: string
  let sql: (text: string) => Promise<void>
  let closeServer: (() => Promise<void>) | undefined
  const catalog = ['--catalog', BUNDLED_CATALOG]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dq-generated-cli-'))
    const seed = await readFile(SEED_FILE, 'utf8')
    if (engine === 'pglite') {
      const data = join(dir, 'pgdata')
      db = `pglite:${data}`
      // The CLI opens the directory in its own process: open it here only between commands.
      sql = async (text) => {
        const local = await PGliteDatabase.open(data)
        try {
          await local.exec(text)
        } finally {
          await local.close()
        }
      }
      const local = await PGliteDatabase.open(data)
      await local.migrate()
      await local.close()
    } else {
      const server = await openTestDatabase('postgres')
      await server.db.migrate()
      db = server.url as string
      sql = server.exec
      closeServer = server.close
    }
    await sql(seed)
  })

  afterAll(async () => {
    await closeServer?.()
    await rm(dir, { recursive: true, force: true })
  })

  it('validate --db lists the six checks the generator makes, with the row fields they use', async () => {
    const result = await dq(['validate', ...catalog, '--db', db])
    // company_news's core table does not exist: that one check does not resolve.
    expect(result.code).toBe(2)
    const lines = result.stdout.split('\n')
    const header = lines.indexOf(
      'generate_to_core_gap (from reference.enrichment_workflow_registry): 6 checks',
    )
    expect(header).toBeGreaterThan(-1)
    const listed = lines.slice(header + 1, header + 7).map((line) => {
      const [, name, row] = line.match(/^ {2}(\S+) {2}(\{.*\})$/) ?? []
      return [name, JSON.parse(row ?? 'null')]
    })
    expect(Object.fromEntries(listed)).toEqual(
      Object.fromEntries(
        Object.entries(GENERATED).map(([name, [extracted_table, key_column, core_table]]) => [
          name,
          {
            workflow_name: name.replace(/_to_core_gap$/, ''),
            extracted_table,
            key_column,
            core_table,
          },
        ]),
      ),
    )
    expect(result.stdout).not.toContain('person_contact_to_core_gap')
    expect(result.stdout).not.toContain('company_customers_to_core_gap')
    expect(result.stdout).toContain(
      '  company_news_to_core_gap: check field "target.table": relation "core.company_news" does not exist\n',
    )
    expect(result.stdout).toContain('1 of 26 checks do not resolve')
  })

  it('validate without a database says the generator needs one to expand', async () => {
    const result = await dq(['validate', ...catalog])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('20 checks and 1 generator, schema OK')
    expect(result.stdout).toContain('give --db to see their checks')
  })

  it('run --check job_postings_to_core_gap runs that generated check alone: 600 of 600 missing', async () => {
    const json = await dq([
      'run',
      ...catalog,
      '--db',
      db,
      '--check',
      'job_postings_to_core_gap',
      '--json',
    ])
    expect(json.code).toBe(1)
    const body = JSON.parse(json.stdout)
    expect(body.results).toHaveLength(1)
    expect(body.results[0]).toMatchObject({
      check: 'job_postings_to_core_gap',
      kind: 'coverage_gap',
      status: 'fail',
      value: 600,
      owner: '@data-oncall',
      details: { source_rows: 600, missing: 600, ratio: 1 },
    })
    const table = await dq(['run', ...catalog, '--db', db, '--check', 'job_postings_to_core_gap'])
    expect(table.code).toBe(1)
    expect(table.stdout).toMatch(
      /FAIL\s+job_postings_to_core_gap\s+600\s+600 of 600 source rows missing \(100\.0%\)\s+@data-oncall/,
    )
    expect(table.stdout).toContain('1 check: 1 fail')
  })

  it('run --check on the generated check whose core table is missing: its error, exit 2', async () => {
    const result = await dq(['run', ...catalog, '--db', db, '--check', 'company_news_to_core_gap'])
    expect(result.code).toBe(2)
    expect(result.stdout).toMatch(
      /ERROR\s+company_news_to_core_gap\s+-\s+check field "target\.table": relation "core\.company_news" does not exist/,
    )
  })

  it('run --tag registry: the six generated checks and the hand-written registry check', async () => {
    const result = await dq(['run', ...catalog, '--db', db, '--tag', 'registry', '--json'])
    expect(result.code).toBe(2) // company_news cannot run
    const body = JSON.parse(result.stdout)
    expect(body.results.map((r: { check: string }) => r.check).sort()).toEqual(
      [...Object.keys(GENERATED), 'enrichment_registry_complete'].sort(),
    )
  })

  it('a registry row that makes no check (inactive) is no check name: exit 2 naming it', async () => {
    const result = await dq([
      'run',
      ...catalog,
      '--db',
      db,
      '--check',
      'person_contact_to_core_gap',
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no check named "person_contact_to_core_gap"')
    expect(result.stdout).toBe('')
  })

  it('history --check reads a generated check, and keeps it after its row leaves the registry', async () => {
    const run = async () =>
      JSON.parse(
        (await dq(['run', ...catalog, '--db', db, '--check', 'job_postings_to_core_gap', '--json']))
          .stdout,
      ).run_id as string
    const first = await run()
    const second = await run()
    const history = async () => {
      const result = await dq([
        'history',
        '--check',
        'job_postings_to_core_gap',
        '--db',
        db,
        '--json',
        '--limit',
        '2',
      ])
      expect(result.code).toBe(0)
      return JSON.parse(result.stdout).results as Record<string, unknown>[]
    }
    const entries = await history()
    expect(entries.map((e) => e.run_id)).toEqual([second, first])
    expect(entries[0]).toMatchObject({
      check: 'job_postings_to_core_gap',
      kind: 'coverage_gap',
      status: 'fail',
      value: 600,
      trigger: 'cli',
      details: { source_rows: 600, missing: 600, ratio: 1 },
    })
    const table = await dq(['history', '--check', 'job_postings_to_core_gap', '--db', db])
    expect(table.stdout).toMatch(/cli\s+FAIL\s+600\s+600 of 600 source rows missing \(100\.0%\)/)

    await sql(
      "update reference.enrichment_workflow_registry set is_active = false where workflow_name = 'job_postings'",
    )
    try {
      const gone = await dq(['run', ...catalog, '--db', db, '--check', 'job_postings_to_core_gap'])
      expect(gone.code).toBe(2)
      expect(gone.stderr).toContain('no check named "job_postings_to_core_gap"')
      expect((await history()).map((e) => e.run_id)).toEqual([second, first])
    } finally {
      await sql(
        "update reference.enrichment_workflow_registry set is_active = true where workflow_name = 'job_postings'",
      )
    }
  })
})

describe('npm start (dq demo) prints the figures of SCENARIOS sections 6-9', () => {
  let demo: { code: number; stdout: string; stderr: string }
  /** The demo's results table, one row per check: [status, value, what]. */
  let rows: Map<string, [string, string, string]>

  beforeAll(async () => {
    demo = await dq(['demo'], { SLACK_WEBHOOK_URL: '', SLACK_WEBHOOK_URL_CRITICAL: '' })
    rows = new Map()
    for (const line of demo.stdout.split('\n')) {
      const [status, check, value, what, owner] = line.split(/ {2,}/)
      if (check && owner?.startsWith('@') && /^(PASS|WARN|FAIL|ERROR)$/.test(status ?? '')) {
        rows.set(check, [status as string, value as string, what as string])
      }
    }
  })

  it('exits 0 with every check in the table', () => {
    expect(demo.code).toBe(0)
    expect(rows.size).toBe(26)
    expect(demo.stdout).toContain('26 checks: 20 fail, 1 error, 1 warn, 4 pass')
  })

  it('6. the registry: the generated gaps, company_news an error, 5 of 13 tables unregistered', () => {
    expect(rows.get('person_profile_to_core_gap')).toEqual([
      'FAIL',
      '120',
      '120 of 2,000 source rows missing (6.0%)',
    ])
    expect(rows.get('person_discovery_to_core_gap')).toEqual([
      'PASS',
      '0',
      '0 of 1,500 source rows missing (0.0%)',
    ])
    expect(rows.get('company_headcount_to_core_gap')).toEqual([
      'PASS',
      '0',
      '0 of 800 source rows missing (0.0%)',
    ])
    expect(rows.get('company_technographics_to_core_gap')).toEqual([
      'WARN',
      '10',
      '10 of 1,000 source rows missing (1.0%)',
    ])
    expect(rows.get('job_postings_to_core_gap')).toEqual([
      'FAIL',
      '600',
      '600 of 600 source rows missing (100.0%)',
    ])
    expect(rows.get('company_news_to_core_gap')).toEqual([
      'ERROR',
      '-',
      'check field "target.table": relation "core.company_news" does not exist',
    ])
    expect(rows.has('person_contact_to_core_gap')).toBe(false)
    expect(rows.has('company_customers_to_core_gap')).toBe(false)
    const registry =
      '5 of 13 source rows missing (38.5%): extracted.company_discovery, extracted.companyenrich_company, extracted.linkedin_company, extracted.linkedin_profile, extracted.person_experience'
    expect(rows.get('enrichment_registry_complete')).toEqual(['FAIL', '5', registry])
    // The Slack message names them too, and says which check cannot run.
    expect(demo.stdout).toContain(`Value *5* · fail above 0\n${registry}\n`)
    expect(demo.stdout).toContain(
      ':warning: *company_news_to_core_gap* cannot run: ERROR\nevery extracted row of this registered workflow reaches core\nError: check field "target.table": relation "core.company_news" does not exist\n',
    )
  })

  it('7. required fields: 2,900 of 10,000 with blank text counted, 2,850 without', () => {
    expect(rows.get('lead_profiles_required_fields')).toEqual([
      'FAIL',
      '2,900',
      '2,900 of 10,000 rows miss a required field (29.0%): matched_job_function 1,250, company_country 1,000, matched_seniority 625, person_country 400, company_name 300',
    ])
    expect(rows.get('lead_profiles_required_fields_null_only')).toEqual([
      'FAIL',
      '2,850',
      '2,850 of 10,000 rows miss a required field (28.5%): matched_job_function 1,250, company_country 1,000, matched_seniority 625, person_country 400, company_name 250',
    ])
  })

  it('8. freshness: 148 of 200 payloads behind their row; linkedin_profile 72.0 h old', () => {
    const [status, value, what] = rows.get('companyenrich_updates_landed') ?? []
    expect([status, value]).toEqual(['FAIL', '148'])
    expect(what).toMatch(
      /^148 of 200 source rows behind their target row \(74\.0%\), max lag [\d.]+ h; 0 without a target row$/,
    )
    const [fresh, hours, age] = rows.get('linkedin_profile_freshness') ?? []
    expect([fresh, hours]).toEqual(['FAIL', '72'])
    expect(age).toMatch(/^newest row 72\.0 h old \(\d{4}-\d\d-\d\dT[\d:]+\+00:00\)$/)
  })

  it('9. stuck runs: 37 of 1,000 running for more than 6 hours', () => {
    expect(rows.get('enrichment_runs_stuck')).toEqual([
      'FAIL',
      '37',
      '37 of 1,000 rows match (3.7%)',
    ])
  })
})
