// "Done when", on the demo database: the first monitoring run posts one message
// naming every failing incident, the second posts nothing, fixing one incident
// posts one recovery, Slack errors lose and duplicate nothing, and a monitor
// that missed its runs says it was down.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NotifyOutcome, notifyRun } from '../alerts/notify/index.ts'
import { monitorStatus } from '../alerts/store/index.ts'
import { expandCatalog } from '../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../checks/load-catalog.ts'
import type { RunOutcome } from '../checks/run-checks.ts'
import { runChecks } from '../checks/run-checks.ts'
import { selectChecks } from '../checks/select-checks.ts'
import { engines, useDatabase } from './support/databases.ts'
import { type Reply, type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const T0 = Date.parse('2026-11-23T00:00:00Z')
const HOUR = 3_600_000
const catalog = await loadCatalog({ path: BUNDLED_CATALOG })
let checks = selectChecks(catalog)

const FAILING = [
  'breezeway_task_comments_duplicates',
  'breezeway_task_photos_duplicates',
  'company_funding_gap',
  'companyenrich_company_updated_at_trigger',
  'companyenrich_updates_landed',
  'enriched_jobs_daily_volume',
  'enrichment_registry_complete',
  'enrichment_runs_stuck',
  'job_postings_to_core_gap',
  'jobs_raw_vs_enriched',
  'lead_profiles_required_fields',
  'lead_profiles_required_fields_null_only',
  'linkedin_profile_freshness',
  'person_experience_sync_trigger',
  'person_experience_to_core_gap',
  'person_profile_to_core_gap',
  'pwh_experience_key_stale',
  'pwh_multiple_current_rows',
  'pwh_natural_key_duplicates',
  'updated_at_triggers',
]

describe.each(engines())('monitoring the demo database on %s', (engine) => {
  const database = useDatabase(engine, { seed: true })
  let slack: SlackReceiver
  const sleeps: number[] = []

  /** The cron path: run every check at `at`, record it, notify (heartbeat: hourly cron). */
  async function tick(
    at: number,
    replies: Reply[] = [],
  ): Promise<{ run: RunOutcome; notified: NotifyOutcome }> {
    slack.script(...replies)
    const run = await runChecks(database().db, checks, {
      trigger: 'cron',
      now: () => new Date(at),
      idempotencyKey: `0 * * * *@${new Date(at).toISOString()}`,
    })
    const notified = await notifyRun(database().db, run, checks, {
      webhooks: { default: slack.url },
      databaseLabel: 'demo',
      heartbeat: { cron: '0 * * * *' },
      sleep: async (ms) => {
        sleeps.push(ms)
      },
    })
    return { run, notified }
  }

  beforeAll(async () => {
    slack = await startSlackReceiver()
    checks = selectChecks(await expandCatalog(database().db, catalog))
  })
  afterAll(async () => {
    await slack.close()
  })

  it('first run: one message naming every failing incident', async () => {
    const { run, notified } = await tick(T0)
    expect(
      run.results
        .filter((r) => r.status === 'fail')
        .map((r) => r.check)
        .sort(),
    ).toEqual(FAILING)
    expect(slack.requests).toHaveLength(1)
    const message = JSON.stringify(slack.requests[0]?.body)
    // Beyond 20 sections the rest are named in one "+N more" section (Block Kit's limits).
    for (const name of FAILING) expect(message).toContain(name)
    expect(slack.requests[0]?.body.text).toMatch(/^dq-monitor: 20 failing: /)
    // 20 failing, the check that cannot run (its registry row names a missing table), 1 warning.
    expect(notified.alerts).toHaveLength(22)
    expect(notified.alerts.every((a) => a.transition === 'firing')).toBe(true)
    expect(notified.problems).toEqual([])
    expect(notified.monitor).toMatchObject({ last_beat_at: null, stale: false })
  })

  it('second run an hour later: nothing', async () => {
    const { notified } = await tick(T0 + HOUR)
    expect(notified.alerts).toEqual([])
    expect(notified.messages).toEqual([])
    expect(slack.requests).toHaveLength(1)
    expect(notified.monitor).toMatchObject({ stale: false, interval_seconds: 3600 })
  })

  it('the same tick delivered again: nothing', async () => {
    const { run, notified } = await tick(T0 + HOUR)
    expect(run.recorded).toBe(false)
    expect(notified.messages).toEqual([])
    expect(slack.requests).toHaveLength(1)
  })

  it('fixing one incident: one recovery message', async () => {
    await database().exec(
      'alter table extracted.person_experience enable trigger trg_sync_person_experience',
    )
    const { notified } = await tick(T0 + 2 * HOUR)
    expect(notified.alerts.map((a) => [a.check, a.transition])).toEqual([
      ['person_experience_sync_trigger', 'resolved'],
    ])
    expect(slack.requests).toHaveLength(2)
    expect(slack.requests[1]?.body.text).toBe(
      'dq-monitor: 1 recovered: person_experience_sync_trigger',
    )
  })

  it('Slack failing: the message waits in the outbox and is sent once, in order, when Slack is back', async () => {
    await database().exec('truncate breezeway.task_photos')
    const down = await tick(T0 + 3 * HOUR, [
      { status: 500 },
      { status: 503 },
      { status: 500 },
      { status: 500 },
    ])
    expect(down.notified.delivered).toEqual([
      expect.objectContaining({ status: 'pending', attempts: 4 }),
    ])
    await database().exec(
      'alter table extracted.person_experience disable trigger trg_sync_person_experience',
    )
    const back = await tick(T0 + 4 * HOUR)
    expect(back.notified.delivered.map((d) => d.status)).toEqual(['sent', 'sent'])
    expect(slack.accepted().map((r) => r.body.text)).toEqual([
      expect.stringMatching(/^dq-monitor: 20 failing/),
      'dq-monitor: 1 recovered: person_experience_sync_trigger',
      'dq-monitor: 1 recovered: breezeway_task_photos_duplicates',
      'dq-monitor: 1 failing: person_experience_sync_trigger',
    ])
    const outbox = await database().query<{ status: string; n: number }>(
      `select status, count(*)::int as n from dq.alert_outbox group by status`,
    )
    expect(outbox).toEqual([{ status: 'sent', n: 4 }])
  })

  it('after the monitor missed its runs, the next run says it was down', async () => {
    const at = T0 + 10 * HOUR // last run at +4 h; hourly: stale after 2 h
    const status = await monitorStatus(database().db, { asOf: new Date(at).toISOString() })
    expect(status).toMatchObject({ stale: true, interval_seconds: 3600, age_seconds: 6 * 3600 })
    const { notified } = await tick(at)
    expect(notified.monitor?.stale).toBe(true)
    expect(notified.problems).toEqual([
      `the monitor was down: no scheduled run completed since ${new Date(T0 + 4 * HOUR).toISOString()} (two scheduled ticks in a row were missed)`,
    ])
    const last = slack.requests.at(-1)
    expect(last?.body.text).toBe('dq-monitor: the monitor was down')
    expect(JSON.stringify(last?.body)).toContain(
      'no scheduled run completed from 2026-11-23 04:00 UTC to 2026-11-23 10:00 UTC (6 hours; expected every 1 hour)',
    )
    const next = await tick(at + HOUR)
    expect(next.notified.messages).toEqual([])
    expect(
      await monitorStatus(database().db, { asOf: new Date(at + HOUR).toISOString() }),
    ).toMatchObject({ stale: false })
  })
})
