// The Slack message of the five incidents: the demo catalog on the seeded
// PGlite database, as a monitoring run would post it the first time. The
// snapshot files are the reviewed message (JSON payload, and as a terminal shows it).
import { describe, expect, it } from 'vitest'
import { planRun } from '../alerts/plan/index.ts'
import { LIMITS } from '../alerts/slack/message/index.ts'
import { expandCatalog } from '../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../checks/load-catalog.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { slackMessageText } from '../functions/cli/output.ts'
import { useDatabase } from './support/databases.ts'

const catalog = await loadCatalog({ path: BUNDLED_CATALOG })

/**
 * The seed's times are relative to when it ran (freshness samples show them),
 * as the database prints them (an offset, never "Z"): masked, so that the
 * snapshot holds on every run. The run's own time above stays.
 */
const seedTimesMasked = (text: string) =>
  text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d/g, '<seed time>')

describe('the five incidents in Slack', () => {
  const database = useDatabase('pglite', { seed: true })

  it('one message, every failing check, within Block Kit limits (snapshot)', async () => {
    const checks = selectChecks(await expandCatalog(database().db, catalog))
    const outcome = await runChecks(database().db, checks, { trigger: 'cron', record: false })
    // Fixed run id and time: everything else in the message comes from the seed.
    const run = {
      ...outcome,
      run_id: '00000000-0000-4000-8000-00000000d3e0',
      started_at: '2026-11-23T03:00:00.000Z',
    }
    const plan = await planRun(database().db, run, checks, {
      databaseLabel: 'demo',
      criticalRoute: false,
    })
    expect(plan.messages).toHaveLength(1)
    const [message] = plan.messages
    if (!message) throw new Error('no message')
    const failing = run.results.filter((r) => r.status === 'fail').map((r) => r.check)
    expect(failing).toHaveLength(20)
    const json = JSON.stringify(message.payload)
    // 22 checks to tell: 20 get a section of their own, the rest are named in "+2 more".
    for (const name of failing) expect(json).toContain(name)
    expect(json).toContain('*+2 more:*')
    expect(json).not.toContain('breezeway_task_tags_duplicates') // passing checks say nothing
    expect(message.payload.blocks.length).toBeLessThanOrEqual(LIMITS.blocks)

    await expect(
      seedTimesMasked(`${JSON.stringify(message.payload, null, 2)}\n`),
    ).toMatchFileSnapshot('./__snapshots__/five-incidents.slack.json')
    await expect(
      seedTimesMasked(`${message.payload.text}\n\n${slackMessageText(message.payload)}`),
    ).toMatchFileSnapshot('./__snapshots__/five-incidents.slack.txt')
  })
})
