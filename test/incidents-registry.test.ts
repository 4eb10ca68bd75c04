// SCENARIOS.md section 6: the enrichment registry lags the pipelines. The demo
// catalog generates one coverage_gap check per registry row that coalesces to
// core and is active, and checks that every extracted table is registered.
// Exact figures on PGlite and PostgreSQL; then the registry changes under the
// monitor: a removed row stops its check and its open alert resolves as removed.
import { beforeAll, describe, expect, it } from 'vitest'
import { notifyRun } from '../alerts/notify/index.ts'
import { alertStates } from '../alerts/store/index.ts'
import { expandCatalog } from '../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../checks/load-catalog.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { engines, useDatabase } from './support/databases.ts'
import { useDemoRun } from './support/demo-run.ts'
import { type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const GENERATED = [
  'company_headcount_to_core_gap',
  'company_news_to_core_gap',
  'company_technographics_to_core_gap',
  'job_postings_to_core_gap',
  'person_discovery_to_core_gap',
  'person_profile_to_core_gap',
]

describe.each(engines())('6. the enrichment registry on %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  const { result, names } = useDemoRun(database, (checks) =>
    checks.filter((c) => c.generated || c.name === 'enrichment_registry_complete'),
  )

  it('one generated check per active row that coalesces to core: six, named from the workflow', () => {
    expect(
      names()
        .filter((n) => n !== 'enrichment_registry_complete')
        .sort(),
    ).toEqual(GENERATED)
    expect(names()).not.toContain('person_contact_to_core_gap')
    expect(names()).not.toContain('company_customers_to_core_gap')
  })

  it.each([
    ['person_profile_to_core_gap', 2000, 120, 0.06],
    ['person_discovery_to_core_gap', 1500, 0, 0],
    ['company_headcount_to_core_gap', 800, 0, 0],
    ['company_technographics_to_core_gap', 1000, 10, 0.01],
    ['job_postings_to_core_gap', 600, 600, 1],
  ])('%s: %i source rows, %i missing (ratio %d)', (name, rows, missing, ratio) => {
    const r = result(name)
    expect(r.value).toBe(missing)
    expect(r.details).toEqual({ source_rows: rows, missing, ratio })
    expect(r.owner).toBe('@data-oncall')
  })

  it('company_news: core.company_news does not exist, so that check errors; the other five ran', () => {
    const r = result('company_news_to_core_gap')
    expect(r.status).toBe('error')
    expect(r.error).toMatch(/relation "core.company_news" does not exist/)
    expect(GENERATED.filter((n) => result(n).status !== 'error')).toHaveLength(5)
  })

  it('registry completeness: 13 extracted tables, 5 not registered (ratio 0.3846)', () => {
    const r = result('enrichment_registry_complete')
    expect(r.value).toBe(5)
    expect(r.details).toEqual({ source_rows: 13, missing: 5, ratio: 0.384615 })
    expect((r.sample as Record<string, string>[]).map((s) => Object.values(s)[0]).sort()).toEqual([
      'extracted.company_discovery',
      'extracted.companyenrich_company',
      'extracted.linkedin_company',
      'extracted.linkedin_profile',
      'extracted.person_experience',
    ])
  })

  describe('when the registry changes', () => {
    let slack: SlackReceiver

    beforeAll(async () => {
      slack = await startSlackReceiver()
    })

    const at = (hour: number) => new Date(Date.parse('2026-12-01T00:00:00Z') + hour * 3_600_000)
    // A monitoring tick over the generated checks, notifying as the Worker's cron does.
    const tick = async (hour: number) => {
      const catalog = await expandCatalog(
        database().db,
        await loadCatalog({ path: BUNDLED_CATALOG }),
      )
      const checks = selectChecks(catalog).filter((c) => c.generated)
      const run = await runChecks(database().db, checks, { trigger: 'cron', now: () => at(hour) })
      const notified = await notifyRun(database().db, run, checks, {
        webhooks: { default: slack.url },
        databaseLabel: 'demo',
        catalogChecks: catalog.checks,
        sleep: async () => {},
      })
      return { run, notified }
    }

    it("a registry the monitor cannot read is one error with the template's owner and tags; no open alert resolves", async () => {
      const first = await tick(0)
      expect(first.notified.alerts).toContainEqual(
        expect.objectContaining({ check: 'job_postings_to_core_gap', transition: 'firing' }),
      )
      await database().exec(
        'alter table reference.enrichment_workflow_registry rename to registry_moved',
      )
      try {
        const broken = await tick(1)
        expect(broken.run.results).toHaveLength(1)
        expect(broken.run.results[0]).toMatchObject({
          check: 'generate_to_core_gap',
          status: 'error',
          owner: '@data-oncall',
          error_code: 'invalid_catalog',
        })
        const catalog = await expandCatalog(
          database().db,
          await loadCatalog({ path: BUNDLED_CATALOG }),
        )
        expect(selectChecks(catalog, { tags: ['registry'] }).map((c) => c.name)).toContain(
          'generate_to_core_gap',
        )
        // Its checks are unknown this run, not gone: nothing resolves as removed.
        expect(broken.notified.alerts.filter((a) => a.transition === 'resolved')).toEqual([])
        expect(() => selectChecks(catalog, { names: ['job_postings_to_core_gap'] })).toThrow(
          /generator generate_to_core_gap could not expand/,
        )
      } finally {
        await database().exec(
          'alter table reference.registry_moved rename to enrichment_workflow_registry',
        )
      }
      const back = await tick(2)
      expect(back.notified.alerts.map((a) => a.check)).not.toContain('job_postings_to_core_gap')
    })

    it('a removed row stops its check, and its open alert resolves as removed, once', async () => {
      await database().exec(
        `delete from reference.enrichment_workflow_registry where workflow_name = 'job_postings'`,
      )
      const second = await tick(3)
      expect(second.run.results.map((r) => r.check)).not.toContain('job_postings_to_core_gap')
      expect(second.notified.alerts).toContainEqual(
        expect.objectContaining({ check: 'job_postings_to_core_gap', transition: 'resolved' }),
      )
      expect(slack.accepted().at(-1)?.body.text).toBe(
        'dq-monitor: 1 no longer checked: job_postings_to_core_gap',
      )
      expect(JSON.stringify(slack.accepted().at(-1)?.body.blocks)).toContain(
        'job_postings_to_core_gap* is no longer checked',
      )
      const states = await alertStates(database().db, ['job_postings_to_core_gap/threshold'])
      expect(states[0]?.status).toBe('pass')
      const third = await tick(4)
      expect(third.notified.alerts.map((a) => a.check)).not.toContain('job_postings_to_core_gap')
      await slack.close()
    })
  })
})
