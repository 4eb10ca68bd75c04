// Delivery against a real HTTP server on 127.0.0.1 playing Slack: what it
// received (count, order, body) and the outbox after each scenario. Nothing
// lost, nothing sent twice, a Slack failure never touches the run's history.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { notifyRun } from '../alerts/notify/index.ts'
import type { FetchFunction } from '../alerts/slack/deliver/index.ts'
import { pendingAlerts } from '../alerts/store/index.ts'
import { parseCatalog } from '../checks/catalog.ts'
import { runChecks } from '../checks/run-checks.ts'
import { engines, useDatabase } from './support/databases.ts'
import { freePort } from './support/ports.ts'
import { type Reply, type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const T0 = Date.parse('2026-11-23T00:00:00Z')
const HOUR = 3_600_000

const catalog = parseCatalog({
  checks: [
    {
      name: 'orders_ref_dups',
      kind: 'duplicates',
      table: 'shop.orders',
      columns: ['ref'],
      owner: '@shop',
      severity: 'critical',
    },
  ],
})

/** A clock that moves only when slept: waits are asserted, never waited. */
function fakeTime() {
  let t = T0
  const sleeps: number[] = []
  return {
    sleeps,
    now: () => new Date(t),
    sleep: async (ms: number) => {
      sleeps.push(ms)
      t += ms
    },
  }
}

type OutboxRow = {
  id: number
  status: string
  attempts: number
  http_status: number | null
  last_error: string | null
  text: string
}

describe.each(engines())('Slack delivery on %s', (engine) => {
  const database = useDatabase(engine)
  let slack: SlackReceiver
  let hour: number
  let time: ReturnType<typeof fakeTime>

  const outbox = () =>
    database().query<OutboxRow>(
      `select id::int as id, status, attempts, http_status, last_error, payload ->> 'text' as text
       from dq.alert_outbox order by id`,
    )

  const breakData = () => database().exec(`update shop.orders set ref = 'r' || (id % 8)`)
  const fixData = () => database().exec(`update shop.orders set ref = 'u' || id`)

  /** One monitoring run an hour after the last, then its notify step. */
  async function monitor(options: { replies?: Reply[]; maxAttempts?: number; url?: string } = {}) {
    slack.script(...(options.replies ?? []))
    const at = new Date(T0 + hour++ * HOUR)
    const run = await runChecks(database().db, catalog.checks, { trigger: 'cron', now: () => at })
    const notified = await notifyRun(database().db, run, catalog.checks, {
      webhooks: { default: options.url ?? slack.url },
      databaseLabel: 'test',
      now: time.now,
      sleep: time.sleep,
      delivery: { timeoutMs: 400, maxAttempts: options.maxAttempts ?? 4 },
    })
    return { run, notified }
  }

  beforeAll(async () => {
    await database().exec(`
      create schema shop;
      create table shop.orders (id int primary key, ref text);
      insert into shop.orders select g, 'u' || g from generate_series(1, 20) g;
    `)
  })

  beforeEach(async () => {
    await database().exec(`
      delete from dq.alert_outbox; delete from dq.alert_state; delete from dq.monitor_heartbeat;
      delete from dq.runs;`)
    await fixData()
    slack = await startSlackReceiver()
    hour = 0
    time = fakeTime()
  })

  afterEach(async () => {
    await slack.close()
  })

  it('200: one message, marked sent; the next run with nothing new sends nothing', async () => {
    await breakData()
    const { notified } = await monitor()
    expect(slack.requests).toHaveLength(1)
    const [request] = slack.requests
    expect(request?.path).toBe('/services/T000/B000/not-a-real-secret')
    expect(request?.headers['content-type']).toBe('application/json')
    expect(request?.body.text).toBe('dq-monitor: 1 failing: orders_ref_dups')
    expect(request?.body.blocks?.[0]).toMatchObject({ type: 'header' })
    expect(JSON.stringify(request?.body)).toContain('Reproduce: `dq run --check orders_ref_dups`')
    expect(await outbox()).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 1, http_status: 200, last_error: null }),
    ])
    expect(notified.delivered).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 1, http_status: 200 }),
    ])
    expect(notified.problems).toEqual([])

    const again = await monitor()
    expect(again.notified.alerts).toEqual([])
    expect(slack.requests).toHaveLength(1)
    expect(await outbox()).toHaveLength(1)
  })

  it('429 with Retry-After: waits what Slack says, then sends once', async () => {
    await breakData()
    await monitor({
      replies: [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '2' } }],
    })
    expect(slack.requests.map((r) => ('status' in r.reply ? r.reply.status : 'hang'))).toEqual([
      429, 200,
    ])
    expect(slack.requests[1]?.body).toEqual(slack.requests[0]?.body)
    expect(time.sleeps).toEqual([2000])
    expect(slack.accepted()).toHaveLength(1)
    expect(await outbox()).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 2, http_status: 200 }),
    ])
  })

  it("429 with a Retry-After past the cap: not waited now, and no run sends it before Slack's time", async () => {
    await breakData()
    const first = await monitor({
      replies: [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '3600' } }],
    })
    expect(slack.requests).toHaveLength(1)
    expect(time.sleeps).toEqual([])
    expect(first.notified.problems.join('\n')).toMatch(/HTTP 429: rate_limited .*next run/)
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'pending', attempts: 1 })])
    // A run right after (a manual one, say) leaves it alone and says until when.
    const early = await monitor()
    expect(slack.requests).toHaveLength(1)
    expect(early.notified.problems).toEqual([
      expect.stringMatching(/Slack message \d+ waits until .*Slack asked to retry later/),
    ])
    // Once Slack's time has passed, the next run sends it, once.
    await database().exec(`update dq.alert_outbox set not_before = now() - interval '1 second'`)
    await monitor()
    expect(slack.accepted()).toHaveLength(1)
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 2 })])
  })

  it('500 twice then 200: backs off 1 s, 2 s, and sends once', async () => {
    await breakData()
    await monitor({ replies: [{ status: 500 }, { status: 502, body: 'bad gateway' }] })
    expect(slack.requests).toHaveLength(3)
    expect(time.sleeps).toEqual([1000, 2000])
    expect(slack.accepted()).toHaveLength(1)
    expect(new Set(slack.requests.map((r) => JSON.stringify(r.body))).size).toBe(1)
    expect(await outbox()).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 3, http_status: 200 }),
    ])
  })

  it("410: not retried, recorded as failed with Slack's error, never sent again", async () => {
    await breakData()
    const { run, notified } = await monitor({
      replies: [{ status: 410, body: 'channel_is_archived' }],
    })
    expect(slack.requests).toHaveLength(1)
    expect(time.sleeps).toEqual([])
    expect(await outbox()).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 1,
        http_status: 410,
        last_error: 'HTTP 410: channel_is_archived (not retried: fix the webhook or the message)',
      }),
    ])
    expect(notified.problems).toEqual([
      expect.stringMatching(/^Slack refused message \d+: HTTP 410: channel_is_archived/),
    ])
    // The run and its results are in history all the same.
    const results = await database().query<{ status: string }>(
      `select status from dq.results where run_id = '${run.run_id}'`,
    )
    expect(results).toEqual([{ status: 'fail' }])
    await monitor()
    expect(slack.requests).toHaveLength(1)
  })

  it('a hang: the run stops at the first timeout (Slack may have it); kept pending, then sent once by the next run', async () => {
    await breakData()
    const first = await monitor({ replies: [{ hang: true }] })
    expect(slack.requests).toHaveLength(1)
    expect(slack.accepted()).toHaveLength(0)
    expect(await outbox()).toEqual([
      expect.objectContaining({
        status: 'pending',
        attempts: 1,
        http_status: null,
        last_error: 'no answer within 400 ms (timeout)',
      }),
    ])
    expect(first.notified.problems).toEqual([
      expect.stringMatching(
        /not sent yet: no answer within 400 ms \(timeout\) \(kept in the outbox/,
      ),
    ])

    const second = await monitor() // nothing new to say; the pending message goes now
    expect(second.notified.alerts).toEqual([])
    expect(slack.requests).toHaveLength(2)
    expect(slack.accepted()).toHaveLength(1)
    expect(slack.accepted()[0]?.body.text).toBe('dq-monitor: 1 failing: orders_ref_dups')
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 2 })])
  })

  it('a receiver that takes the message but answers too late gets it twice at most, not five times', async () => {
    await breakData()
    await monitor({ replies: [{ hang: true, posted: true }] })
    await monitor()
    expect(slack.accepted()).toHaveLength(2)
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 2 })])
  })

  it('connection refused (nothing listens): nothing was sent, so backed off and retried; kept pending, sent once by the next run', async () => {
    await breakData()
    const closed = `http://127.0.0.1:${await freePort()}/services/T000/B000/not-a-real-secret`
    const first = await monitor({ url: closed })
    expect(time.sleeps).toEqual([1000, 2000, 4000])
    expect(await outbox()).toEqual([
      expect.objectContaining({
        status: 'pending',
        attempts: 4,
        http_status: null,
        last_error: expect.stringMatching(/^network error: .*\(ECONNREFUSED\)$/),
      }),
    ])
    expect(first.notified.problems.join('\n')).not.toContain('not-a-real-secret')
    await monitor()
    expect(slack.accepted()).toHaveLength(1)
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 5 })])
  })

  it.each([
    ['reset (RST)', 'reset', /ECONNRESET/],
    ['closed (FIN)', 'close', /other side closed|UND_ERR_SOCKET/],
  ] as const)(
    'the connection %s after the request was sent: like a timeout, this run stops (Slack may have it); the next run sends it once more',
    async (_, drop, error) => {
      await breakData()
      const first = await monitor({
        replies: [
          { drop, posted: true },
          { drop, posted: true },
        ],
      })
      expect(slack.requests).toHaveLength(1)
      expect(time.sleeps).toEqual([])
      expect(await outbox()).toEqual([
        expect.objectContaining({
          status: 'pending',
          attempts: 1,
          http_status: null,
          last_error: expect.stringMatching(error),
        }),
      ])
      expect(first.notified.problems).toEqual([
        expect.stringMatching(/not sent yet: .*may have reached Slack/),
      ])
      // The second drop is the next run's one try; then the run after that gets Slack's 200.
      await monitor()
      expect(slack.requests).toHaveLength(2)
      await monitor()
      expect(slack.accepted()).toHaveLength(3)
      expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 3 })])
    },
  )

  it("Slack's 200 whose body is cut off: sent (Slack posted it), never sent again", async () => {
    await breakData()
    await monitor({ replies: [{ status: 200, cut: true }] })
    expect(slack.requests).toHaveLength(1)
    expect(await outbox()).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 1, http_status: 200, last_error: null }),
    ])
    await monitor()
    expect(slack.requests).toHaveLength(1)
  })

  it('a 302 redirect: not followed, not retried, failed naming the redirect (never the URL)', async () => {
    await breakData()
    const elsewhere = await startSlackReceiver()
    try {
      const { notified } = await monitor({
        replies: [{ status: 302, headers: { location: elsewhere.url } }],
      })
      expect(slack.requests).toHaveLength(1)
      expect(elsewhere.requests).toHaveLength(0)
      expect(time.sleeps).toEqual([])
      expect(await outbox()).toEqual([
        expect.objectContaining({
          status: 'failed',
          attempts: 1,
          http_status: 302,
          last_error:
            'HTTP 302 (the webhook URL redirects: use the URL Slack gave you) (not retried: fix the webhook or the message)',
        }),
      ])
      expect(notified.problems.join('\n')).not.toContain('not-a-real-secret')
      await monitor()
      expect(slack.requests).toHaveLength(1)
    } finally {
      await elsewhere.close()
    }
  })

  it.each([
    [400, 'invalid_payload'],
    [403, 'invalid_token'],
  ])("%i %s: not retried, failed with Slack's error, never sent again", async (status, said) => {
    await breakData()
    const { notified } = await monitor({ replies: [{ status, body: said }] })
    expect(slack.requests).toHaveLength(1)
    expect(time.sleeps).toEqual([])
    expect(await outbox()).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 1,
        http_status: status,
        last_error: `HTTP ${status}: ${said} (not retried: fix the webhook or the message)`,
      }),
    ])
    expect(notified.problems).toEqual([
      expect.stringMatching(new RegExp(`^Slack refused message \\d+: HTTP ${status}: ${said}`)),
    ])
    await monitor()
    expect(slack.requests).toHaveLength(1)
  })

  it('a 2xx other than 200 (not Slack: a proxy?): not retried, so never posted again through it', async () => {
    await breakData()
    await monitor({ replies: [{ status: 204 }, { status: 204 }] })
    expect(slack.requests).toHaveLength(1)
    expect(await outbox()).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 1,
        http_status: 204,
        last_error: expect.stringMatching(/^HTTP 204: Slack answers 200/),
      }),
    ])
    await monitor()
    expect(slack.requests).toHaveLength(1)
  })

  it('more timeouts per run when configured (timeoutAttempts)', async () => {
    await breakData()
    slack.script({ hang: true }, { hang: true })
    const at = new Date(T0)
    const run = await runChecks(database().db, catalog.checks, { trigger: 'cron', now: () => at })
    await notifyRun(database().db, run, catalog.checks, {
      webhooks: { default: slack.url },
      databaseLabel: 'test',
      now: time.now,
      sleep: time.sleep,
      delivery: { timeoutMs: 400, maxAttempts: 4, timeoutAttempts: 2 },
    })
    // Two requests time out, then the run stops: the third attempt is the next run's.
    expect(slack.requests).toHaveLength(2)
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'pending', attempts: 2 })])
  })

  it('a message leased by a run that died is named by the next run, and sent once its lease ends', async () => {
    await breakData()
    await monitor({ replies: [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }] })
    // A run leases it for its send, then dies (the process is killed mid-send).
    const [held] = await pendingAlerts(database().db, { limit: 1, leaseSeconds: 600 })
    expect(held).toBeDefined()
    const next = await monitor()
    expect(slack.accepted()).toHaveLength(0)
    expect(next.notified.problems).toEqual([
      expect.stringMatching(
        new RegExp(`Slack message ${held?.id} is held by another run until .*may be posted twice`),
      ),
    ])
    await database().exec(`update dq.alert_outbox set leased_until = now() - interval '1 second'`)
    await monitor()
    expect(slack.accepted()).toHaveLength(1)
  })

  it('Slack down across runs: every message kept, then all sent oldest first, one per second, once each', async () => {
    const down: Reply[] = Array.from({ length: 12 }, () => ({ status: 503 }))
    await breakData()
    await monitor({ replies: down.slice(0, 4) }) // firing
    await fixData()
    await monitor({ replies: down.slice(4, 8) }) // resolved
    await breakData()
    await monitor({ replies: down.slice(8, 12) }) // firing again
    // While Slack was down each run retried only the oldest message: order is kept.
    expect(new Set(slack.requests.map((r) => r.body.text))).toEqual(
      new Set(['dq-monitor: 1 failing: orders_ref_dups']),
    )
    expect((await outbox()).map((m) => m.status)).toEqual(['pending', 'pending', 'pending'])

    time.sleeps.length = 0
    const { notified } = await monitor()
    expect(notified.delivered.map((d) => d.status)).toEqual(['sent', 'sent', 'sent'])
    expect(slack.accepted().map((r) => r.body.text)).toEqual([
      'dq-monitor: 1 failing: orders_ref_dups',
      'dq-monitor: 1 recovered: orders_ref_dups',
      'dq-monitor: 1 failing: orders_ref_dups',
    ])
    expect(time.sleeps).toEqual([1000, 1000]) // paced: one message per second
    expect((await outbox()).map((m) => m.status)).toEqual(['sent', 'sent', 'sent'])
    await monitor()
    expect(slack.accepted()).toHaveLength(3)
  })

  it('two runs notifying at once: one firing message, sent once', async () => {
    await breakData()
    const at = new Date(T0)
    const runs = await Promise.all(
      [0, 1].map(() =>
        runChecks(database().db, catalog.checks, { trigger: 'http', now: () => at }),
      ),
    )
    const outcomes = await Promise.all(
      runs.map((run) =>
        notifyRun(database().db, run, catalog.checks, {
          webhooks: { default: slack.url },
          databaseLabel: 'test',
          now: time.now,
          sleep: time.sleep,
        }),
      ),
    )
    expect(outcomes.flatMap((o) => o.alerts.map((a) => a.transition))).toEqual(['firing'])
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent' })])
    expect(slack.accepted()).toHaveLength(1)
  })

  it('a run that was not recorded (a cron tick delivered twice) alerts nothing', async () => {
    await breakData()
    const at = new Date(T0)
    const options = { trigger: 'cron' as const, now: () => at, idempotencyKey: 'tick@1' }
    await runChecks(database().db, catalog.checks, options)
    const duplicate = await runChecks(database().db, catalog.checks, options)
    expect(duplicate.recorded).toBe(false)
    const notified = await notifyRun(database().db, duplicate, catalog.checks, {
      webhooks: { default: slack.url },
      databaseLabel: 'test',
    })
    expect(notified.skipped).toBe(
      'this run was already recorded (the same cron tick delivered twice)',
    )
    expect(notified.problems).toEqual([])
    expect(slack.requests).toHaveLength(0)
    expect(await outbox()).toEqual([])
  })

  it('a message another run settled mid-send (its lease ran out): reported as a possible double post', async () => {
    await breakData()
    const at = new Date(T0)
    const run = await runChecks(database().db, catalog.checks, { trigger: 'cron', now: () => at })
    // While this run waits for Slack, another run (the lease expired) sends and marks it.
    const takenOver: FetchFunction = async (url, init) => {
      await database().exec(
        `update dq.alert_outbox set status = 'sent', sent_at = now(), leased_until = null`,
      )
      return fetch(url, init as RequestInit)
    }
    const notified = await notifyRun(database().db, run, catalog.checks, {
      webhooks: { default: slack.url },
      databaseLabel: 'test',
      fetch: takenOver,
      sleep: time.sleep,
    })
    const [message] = notified.messages
    expect(notified.delivered).toEqual([
      expect.objectContaining({ id: message?.id, status: 'sent', lease_lost: true }),
    ])
    expect(notified.problems).toEqual([
      `Slack message ${message?.id}: another run settled it while this run was sending (this run's lease on it ran out), so this run's outcome (sent) was not recorded: it may have been posted twice`,
    ])
    // The other run's outcome stands: attempts are not counted twice.
    expect(await outbox()).toEqual([expect.objectContaining({ status: 'sent', attempts: 0 })])
  })

  it('critical checks go to SLACK_WEBHOOK_URL_CRITICAL when it is set', async () => {
    const critical = await startSlackReceiver()
    try {
      await breakData()
      const run = await runChecks(database().db, catalog.checks, { trigger: 'cli' })
      await notifyRun(database().db, run, catalog.checks, {
        webhooks: { default: slack.url, critical: critical.url },
        databaseLabel: 'test',
        sleep: time.sleep,
      })
      expect(slack.requests).toHaveLength(0)
      expect(critical.accepted().map((r) => r.body.text)).toEqual([
        'dq-monitor: 1 failing: orders_ref_dups',
      ])
    } finally {
      await critical.close()
    }
  })
})
