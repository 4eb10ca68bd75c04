// The monitor's own staleness, measured in cron ticks (dq.heartbeat_deadline
// in supabase/schemas/40_alerts.sql): uneven crons (weekdays only, two times a day) are not
// stale on schedule, two missed ticks in a row are, and ticks with no check
// due beat too (recordHeartbeat) without covering up a gap.

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { recordHeartbeat } from '../alerts/heartbeat/index.ts'
import { type NotifyOutcome, notifyRun } from '../alerts/notify/index.ts'
import { monitorStatus } from '../alerts/store/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { runChecks } from '../checks/run-checks.ts'
import { DqError } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { engines, useDatabase } from './support/databases.ts'
import { type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const iso = (text: string) => new Date(text).toISOString()
const downProblem = (since: string) =>
  `the monitor was down: no scheduled run completed since ${iso(since)} (two scheduled ticks in a row were missed)`

// One passing check: the only alert these runs can send is the monitor's own.
const catalog = parseCatalog({
  checks: [{ name: 'probe', kind: 'duplicates', table: 'public.hb_probe', columns: ['id'] }],
})

describe.each(engines())('the monitor heartbeat on %s', (engine) => {
  const database = useDatabase(engine)
  let slack: SlackReceiver

  beforeAll(async () => {
    await database().exec('create table public.hb_probe (id int primary key)')
  })
  beforeEach(async () => {
    await database().exec(`
      delete from dq.alert_outbox; delete from dq.alert_state; delete from dq.monitor_heartbeat;
      delete from dq.runs;`)
    slack = await startSlackReceiver()
  })
  afterEach(async () => {
    await slack.close()
  })

  /** The Worker's path for a tick with checks due: run, record, notify with the heartbeat. */
  async function scheduledRun(cron: string, at: string): Promise<NotifyOutcome> {
    const tick = new Date(at)
    const run = await runChecks(database().db, catalog.checks, {
      trigger: 'cron',
      now: () => tick,
      idempotencyKey: `scheduled@${tick.toISOString()}`,
    })
    expect(run.recorded).toBe(true)
    return notifyRun(database().db, run, catalog.checks, {
      webhooks: { default: slack.url },
      databaseLabel: 'test',
      heartbeat: { cron },
      sleep: async () => {},
    })
  }

  /** Every run's "was it stale?" and problems, in order. */
  async function runs(cron: string, ticks: string[]) {
    const seen: { at: string; stale: boolean | undefined; problems: string[] }[] = []
    for (const at of ticks) {
      const notified = await scheduledRun(cron, at)
      seen.push({ at, stale: notified.monitor?.stale, problems: notified.problems })
    }
    return seen
  }

  describe('uneven crons', () => {
    it('weekdays at 09:00: Thursday, Friday, Monday, none stale (Friday expects Monday)', async () => {
      const seen = await runs('0 9 * * 1-5', [
        '2026-11-19T09:00:00Z', // Thursday
        '2026-11-20T09:00:00Z', // Friday
        '2026-11-23T09:00:00Z', // Monday
      ])
      expect(seen.map((s) => [s.stale, s.problems])).toEqual([
        [false, []],
        [false, []],
        [false, []],
      ])
      const monitor = await monitorStatus(database().db, { asOf: iso('2026-11-23T09:00:00Z') })
      expect(monitor).toMatchObject({
        last_beat_at: iso('2026-11-23T09:00:00Z'),
        interval_seconds: 86400, // Monday expects Tuesday
        stale_after: iso('2026-11-25T09:00:00Z'),
        stale: false,
      })
    })

    it('09:00 and 12:00 daily (3 h, then 21 h): two days of runs, none stale', async () => {
      const seen = await runs('0 9,12 * * *', [
        '2026-11-23T09:00:00Z',
        '2026-11-23T12:00:00Z',
        '2026-11-24T09:00:00Z',
        '2026-11-24T12:00:00Z',
        '2026-11-25T09:00:00Z',
      ])
      expect(seen.filter((s) => s.stale || s.problems.length > 0)).toEqual([])
    })
  })

  describe('real gaps', () => {
    it('weekdays: one missed tick (Monday) is tolerated; Monday and Tuesday missed: Wednesday says it was down', async () => {
      const tolerated = await runs('0 9 * * 1-5', ['2026-11-20T09:00:00Z', '2026-11-24T09:00:00Z'])
      expect(tolerated.map((s) => s.stale)).toEqual([false, false])

      await database().exec('delete from dq.monitor_heartbeat; delete from dq.runs')
      const gap = await runs('0 9 * * 1-5', ['2026-11-20T09:00:00Z', '2026-11-25T09:00:00Z'])
      expect(gap[1]).toMatchObject({
        stale: true,
        problems: [downProblem('2026-11-20T09:00:00Z')],
      })
      expect(slack.accepted().at(-1)?.body.text).toBe('dq-monitor: the monitor was down')
    })

    it('09:00 and 12:00: missing 12:00 and the next 09:00 is a gap', async () => {
      const seen = await runs('0 9,12 * * *', ['2026-11-23T09:00:00Z', '2026-11-24T12:00:00Z'])
      expect(seen[1]).toMatchObject({
        stale: true,
        problems: [downProblem('2026-11-23T09:00:00Z')],
      })
    })

    it('the deadline is exclusive: stale only after the second tick has passed', async () => {
      await scheduledRun('0 * * * *', '2026-11-23T00:00:00Z')
      const status = (asOf: string) => monitorStatus(database().db, { asOf: iso(asOf) })
      expect(await status('2026-11-23T02:00:00Z')).toMatchObject({ stale: false })
      expect(await status('2026-11-23T02:00:01Z')).toMatchObject({ stale: true })
    })
  })

  describe('ticks with no check due (recordHeartbeat)', () => {
    const cron = '*/15 * * * *'

    it('a 15-minute trigger with an hourly check: the next hourly run is not stale', async () => {
      await scheduledRun(cron, '2026-11-23T00:00:00Z')
      for (const at of ['00:15', '00:30', '00:45']) {
        const beat = await recordHeartbeat(database().db, {
          cron,
          at: new Date(`2026-11-23T${at}:00Z`),
        })
        expect(beat).toEqual({
          recorded: true,
          monitor: expect.objectContaining({ stale: false }),
          problems: [],
        })
      }
      expect(await monitorStatus(database().db, { asOf: iso('2026-11-23T00:50:00Z') })).toEqual({
        last_run_id: null, // no run: only the heartbeat
        last_beat_at: iso('2026-11-23T00:45:00Z'),
        interval_seconds: 900,
        stale_after: iso('2026-11-23T01:15:00Z'),
        age_seconds: 300,
        stale: false,
      })
      const next = await scheduledRun(cron, '2026-11-23T01:00:00Z')
      expect(next.monitor?.stale).toBe(false)
      expect(next.problems).toEqual([])
    })

    it('without them, the same hourly run would report the monitor down', async () => {
      await scheduledRun(cron, '2026-11-23T00:00:00Z')
      const next = await scheduledRun(cron, '2026-11-23T01:00:00Z')
      expect(next.problems).toEqual([downProblem('2026-11-23T00:00:00Z')])
    })

    it('a beat after a gap does not cover it up: the next run with checks due announces it', async () => {
      await scheduledRun(cron, '2026-11-23T00:00:00Z')
      const beat = await recordHeartbeat(database().db, {
        cron,
        at: new Date('2026-11-23T02:15:00Z'),
      })
      expect(beat).toMatchObject({
        recorded: false,
        monitor: { stale: true, last_beat_at: iso('2026-11-23T00:00:00Z') },
        problems: [
          `${downProblem('2026-11-23T00:00:00Z')}; the next run with checks due announces it`,
        ],
      })
      const announced = await scheduledRun(cron, '2026-11-23T03:00:00Z')
      expect(announced.problems).toEqual([downProblem('2026-11-23T00:00:00Z')])
      expect(slack.accepted().at(-1)?.body.text).toBe('dq-monitor: the monitor was down')
      expect(JSON.stringify(slack.accepted().at(-1)?.body)).toContain(
        'from 2026-11-23 00:00 UTC to 2026-11-23 03:00 UTC',
      )
      // The gap was announced with this run's beat: the next quiet tick beats again.
      const after = await recordHeartbeat(database().db, {
        cron,
        at: new Date('2026-11-23T03:15:00Z'),
      })
      expect(after).toMatchObject({ recorded: true, problems: [] })
    })

    it('an older tick (a late delivery) never moves the heartbeat back', async () => {
      const late = { cron, at: new Date('2026-11-23T00:30:00Z') }
      await recordHeartbeat(database().db, { cron, at: new Date('2026-11-23T00:45:00Z') })
      expect(await recordHeartbeat(database().db, late)).toMatchObject({
        recorded: false,
        problems: [],
      })
      expect(await monitorStatus(database().db)).toMatchObject({
        last_beat_at: iso('2026-11-23T00:45:00Z'),
      })
    })

    it('two triggers beating in the same minute keep the earlier deadline (the finer trigger)', async () => {
      const friday = new Date('2026-11-20T09:00:00Z')
      for (const order of [
        ['0 9 * * 1-5', '0 * * * *'],
        ['0 * * * *', '0 9 * * 1-5'],
      ]) {
        await database().exec('delete from dq.monitor_heartbeat')
        for (const trigger of order)
          await recordHeartbeat(database().db, { cron: trigger, at: friday })
        expect(await monitorStatus(database().db, { asOf: friday.toISOString() })).toMatchObject({
          interval_seconds: 3600,
          stale_after: iso('2026-11-20T11:00:00Z'),
        })
      }
    })

    it('a hand-made event (no cron) beats nothing; a database failure is a problem, not a throw', async () => {
      expect(await recordHeartbeat(database().db, { cron: '', at: new Date() })).toEqual({
        recorded: false,
        problems: [],
      })
      expect(await monitorStatus(database().db)).toMatchObject({ last_beat_at: null })
      const broken = {
        call: async () => {
          throw new DqError('database', 'connection refused')
        },
      } as unknown as DatabasePort
      expect(await recordHeartbeat(broken, { cron, at: new Date() })).toEqual({
        recorded: false,
        problems: ['heartbeat not recorded: connection refused'],
      })
    })
  })

  it('a heartbeat from before migration 008 (no stale_after) is judged as before: twice its interval', async () => {
    await database().exec(`
      insert into dq.monitor_heartbeat (run_id, beat_at, interval_seconds)
      values ('00000000-0000-4000-8000-000000000001', '2026-11-23T00:00:00Z', 3600)`)
    const status = (asOf: string) => monitorStatus(database().db, { asOf: iso(asOf) })
    expect(await status('2026-11-23T02:00:00Z')).toMatchObject({
      stale: false,
      stale_after: iso('2026-11-23T02:00:00Z'),
    })
    expect(await status('2026-11-23T02:00:01Z')).toMatchObject({ stale: true })
  })
})
