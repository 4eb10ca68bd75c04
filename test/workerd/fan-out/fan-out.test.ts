/**
 * A tick fanned out on Queues, inside workerd: the real Worker under
 * wrangler.toml's [env.queues] (producer, consumer, dead-letter queue),
 * 500 checks (catalog.ts) against real PostgreSQL, and a Slack stand-in.
 * Every check is recorded once under the tick's run, however its parts are
 * delivered; a part that keeps failing ends in the dead-letter queue and its
 * checks are recorded as never ran; each tick posts one Slack message.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import postgres from 'postgres'
import { describe, expect, inject, it, vi } from 'vitest'
import { mapBounded, type PartMessage } from '../../../checks/fan-out/index.ts'
import worker from '../../../functions/worker.ts'
import { DEAD_LETTER_QUEUE, FAN_OUT_QUEUE } from './bindings.ts'
import { checkName, FAN_OUT_CHECKS } from './catalog.ts'

const databaseUrl = inject('fanOutDatabaseUrl')
const slack = inject('fanOutSlack')

// Consecutive hourly ticks ending at the current hour: the monitor is never "down".
const HOUR = 3_600_000
const hour = Math.floor(Date.now() / HOUR) * HOUR
const ticks = [4, 3, 2, 1, 0].map((back) => new Date(hour - back * HOUR)) as [
  Date,
  Date,
  Date,
  Date,
  Date,
]
const keyOf = (at: Date) => `scheduled@${at.toISOString()}`
const names = (indexes: number[]) => indexes.map(checkName).sort()
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
/** The checks the seed fails: every 50th. */
const SEEDED_FAILURES = range(0, 10).map((i) => i * 50)

async function fire(at: Date, bindings: object = env) {
  const controller = createScheduledController({ cron: '0 * * * *', scheduledTime: at })
  const ctx = createExecutionContext()
  await worker.scheduled(controller, bindings, ctx)
  await waitOnExecutionContext(ctx)
}

/** Hands `bodies` to the Worker's queue handler as one batch, as Queues would. */
async function deliver(queue: string, bodies: unknown[], prefix = 'm') {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `${prefix}-${i}`, timestamp: new Date(), attempts: 1, body })),
  )
  const ctx = createExecutionContext()
  await worker.queue(batch, env, ctx)
  return getQueueResult(batch, ctx)
}

/** A queue producer that keeps what it is sent (for deliveries the test controls). */
function capturingQueue() {
  const sent: PartMessage[] = []
  return {
    sent,
    async sendBatch(messages: Iterable<{ body: PartMessage }>) {
      for (const message of messages) sent.push(message.body)
    },
  }
}

type Received = { body: { text?: string; blocks?: unknown[] }; reply: { status?: number } }

async function slackMessages(): Promise<Received[]> {
  const response = await fetch(slack.inspectUrl)
  return ((await response.json()) as Received[]).filter((r) => r.reply.status === 200)
}

/** Polls until `probe` gives a value (the consumers run apart from the test). */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 100_000
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`gave up waiting for ${what}`)
}

/** The Slack messages once `count` have arrived, and a moment more for any extra one. */
async function slackSettledAt(count: number): Promise<Received[]> {
  await until(`${count} Slack message(s)`, async () =>
    (await slackMessages()).length >= count ? true : undefined,
  )
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  return slackMessages()
}

describe.runIf(databaseUrl !== '')('a tick fanned out on Queues (500 checks)', () => {
  // Not ended: see functions/worker.ts (postgres.js end() in workerd); the runtime closes it.
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })

  async function finishedRun(at: Date) {
    return until(`the run of ${keyOf(at)} to complete`, async () => {
      const [run] = await sql<{ id: string; counts: Record<string, number> }[]>`
        select id, counts from dq.runs where idempotency_key = ${keyOf(at)} and completed`
      return run
    })
  }

  async function resultsOf(runId: string) {
    return sql<{ check_name: string; status: string; error_code: string | null; error: string }[]>`
      select check_name, status, error_code, error from dq.results where run_id = ${runId}`
  }

  it('the cron tick sends its 500 checks to the queue; each is recorded once under one run, and one Slack message is posted', async () => {
    expect(env.DQ_QUEUE).toBeDefined() // wrangler.toml [env.queues]: the fan-out path
    await fire(ticks[0])
    const run = await finishedRun(ticks[0])
    const runs = await sql`select id from dq.runs where idempotency_key = ${keyOf(ticks[0])}`
    expect(runs).toHaveLength(1)
    const results = await resultsOf(run.id)
    expect(results).toHaveLength(FAN_OUT_CHECKS)
    expect(new Set(results.map((r) => r.check_name)).size).toBe(FAN_OUT_CHECKS)
    expect(
      names(results.filter((r) => r.status === 'fail').map((r) => Number(r.check_name.slice(8)))),
    ).toEqual(names(SEEDED_FAILURES))
    expect(results.filter((r) => r.status === 'error')).toEqual([])
    expect(run.counts).toEqual({ pass: 490, fail: 10 })
    const [fan] = await sql`
      select expected, recorded, finished_at is not null as finished from dq.run_fan_out where run_id = ${run.id}`
    expect(fan).toMatchObject({ expected: 500, recorded: 500, finished: true })
    const messages = await slackSettledAt(1)
    expect(messages).toHaveLength(1)
    const text = JSON.stringify(messages[0]?.body)
    for (const failing of names(SEEDED_FAILURES)) expect(text).toContain(failing)
  })

  it('every part delivered twice, concurrently: nothing is recorded twice, the tick completes once and posts one message', async () => {
    // Something new to say at this tick: two more checks fail.
    await sql`insert into fan_out.items (id, n) values (5001, 1), (5002, 2)`
    const queue = capturingQueue()
    await fire(ticks[1], { ...env, DQ_QUEUE: queue })
    expect(queue.sent).toHaveLength(FAN_OUT_CHECKS / 20) // DQ_CHECKS_PER_MESSAGE
    expect(queue.sent.flatMap((part) => part.checks).sort()).toEqual(
      names(range(0, FAN_OUT_CHECKS)),
    )
    const [pending] =
      await sql`select id, completed from dq.runs where idempotency_key = ${keyOf(ticks[1])}`
    expect(pending?.completed).toBe(false)
    const before = (await slackMessages()).length
    // Each part twice (the second time in reverse order), six invocations at a time.
    const deliveries = [...queue.sent, ...queue.sent.toReversed()]
    const outcomes = await mapBounded(
      deliveries.map((body, i) => ({ body, i })),
      6,
      ({ body, i }) => deliver(FAN_OUT_QUEUE, [body], `redelivery-${i}`),
    )
    // A copy that found some of its checks held by the other copy, running at once, records
    // the rest and is retried (test/fan-out.test.ts: with a delay); Queues brings it back.
    const retried = outcomes.flatMap((outcome, i) =>
      outcome.retryMessages.length > 0 ? [deliveries[i] as PartMessage] : [],
    )
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome.explicitAcks.length + outcome.retryMessages.length, `delivery ${i}`).toBe(1)
    }
    const again = await deliver(FAN_OUT_QUEUE, retried, 'retried')
    expect(again.retryMessages).toEqual([])
    const run = await finishedRun(ticks[1])
    const results = await resultsOf(run.id)
    expect(results).toHaveLength(FAN_OUT_CHECKS)
    expect(new Set(results.map((r) => r.check_name)).size).toBe(FAN_OUT_CHECKS)
    expect(run.counts).toEqual({ pass: 488, fail: 12 })
    const [fan] = await sql`select recorded from dq.run_fan_out where run_id = ${run.id}`
    expect(fan?.recorded).toBe(FAN_OUT_CHECKS)
    const messages = await slackSettledAt(before + 1)
    expect(messages).toHaveLength(before + 1)
    const text = JSON.stringify(messages.at(-1)?.body)
    expect(text).toContain(checkName(1))
    expect(text).toContain(checkName(2))
    // Once more, after the tick completed: still nothing twice, no new message.
    await deliver(FAN_OUT_QUEUE, queue.sent, 'late')
    expect(await resultsOf(run.id)).toHaveLength(FAN_OUT_CHECKS)
    expect(await slackSettledAt(before + 1)).toHaveLength(before + 1)
  })

  it('a part that keeps failing is retried, then dead-lettered: its checks are recorded as never ran, the tick completes and posts one message', async () => {
    // Recording fan_out_0137's result fails, whatever the attempt: its part (checks 120-139) cannot be recorded.
    await sql.unsafe(`
      create or replace function fan_out.refuse() returns trigger language plpgsql as $$
      begin raise exception 'injected failure recording %', new.check_name; end $$;
      create trigger refuse_one before insert on dq.results for each row
        when (new.check_name = '${checkName(137)}' and new.error_code is distinct from 'never_ran')
        execute function fan_out.refuse();`)
    try {
      const before = (await slackMessages()).length
      await fire(ticks[2])
      const run = await finishedRun(ticks[2])
      const results = await resultsOf(run.id)
      expect(results).toHaveLength(FAN_OUT_CHECKS)
      expect(new Set(results.map((r) => r.check_name)).size).toBe(FAN_OUT_CHECKS)
      const neverRan = results.filter((r) => r.error_code === 'never_ran')
      expect(neverRan.map((r) => r.check_name).sort()).toEqual(names(range(120, 140)))
      expect(neverRan.every((r) => r.status === 'error')).toBe(true)
      // max_retries = 3: four deliveries failed before the queue gave up on it.
      expect(neverRan[0]?.error).toMatch(
        /^never ran: its batch \(part 7 of 25\) failed 4 times \(dead-letter queue dq-checks-dlq\); last error: .*injected failure recording fan_out_0137/,
      )
      expect(results.filter((r) => r.status === 'error')).toHaveLength(20)
      expect(run.counts).toMatchObject({ error: 20 })
      const messages = await slackSettledAt(before + 1)
      expect(messages).toHaveLength(before + 1)
      const text = JSON.stringify(messages.at(-1)?.body)
      expect(text).toContain('20 cannot run')
      expect(text).toContain(checkName(137))
    } finally {
      await sql`drop trigger refuse_one on dq.results`
    }
  })

  it('the same tick delivered twice sends its checks once', async () => {
    const queue = capturingQueue()
    const bindings = { ...env, DQ_QUEUE: queue }
    await Promise.all([fire(ticks[3], bindings), fire(ticks[3], bindings)])
    await fire(ticks[3], bindings)
    expect(queue.sent).toHaveLength(FAN_OUT_CHECKS / 20)
    const runs = await sql`select id from dq.runs where idempotency_key = ${keyOf(ticks[3])}`
    expect(runs).toHaveLength(1)
    // Completed through the dead-letter consumer: every check recorded as never ran, once.
    const outcome = await deliver(DEAD_LETTER_QUEUE, queue.sent, 'dead')
    expect(outcome.explicitAcks).toHaveLength(queue.sent.length)
    const run = await finishedRun(ticks[3])
    const results = await resultsOf(run.id)
    expect(results).toHaveLength(FAN_OUT_CHECKS)
    expect(results.every((r) => r.error_code === 'never_ran')).toBe(true)
    expect(results[0]?.error).toContain('without a recorded failure')
  })

  it('a consumer that throws (a misconfigured deploy) is retried by Queues, then dead-lettered: its checks never ran, without a recorded failure', async () => {
    const queue = capturingQueue()
    await fire(ticks[4], { ...env, DQ_QUEUE: queue })
    expect(queue.sent).toHaveLength(FAN_OUT_CHECKS / 20)
    const broken = queue.sent[12] as PartMessage // checks 240-259
    const before = (await slackMessages()).length
    await mapBounded(
      queue.sent.filter((part) => part !== broken),
      6,
      (part) => deliver(FAN_OUT_QUEUE, [part], `fine-${part.part}`),
    )
    // The bindings the runtime hands the Worker, made invalid: the queue handler itself throws
    // (functions/worker.ts rethrows), before it reads a message, so it neither acks nor retries
    // one: Queues retries the batch, max_retries (3) times. The deploy is mended as the last
    // retry fails (Queues redelivers at once here): the dead-letter queue's consumer runs as deployed.
    const bindings = env as unknown as Record<string, unknown>
    const budget = bindings.DQ_CONNECTION_BUDGET
    const failure = `dq-monitor: queue ${FAN_OUT_QUEUE}: batch failed: the Worker is misconfigured: DQ_CONNECTION_BUDGET`
    let failures = 0
    const print = console.error.bind(console)
    const logged = vi.spyOn(console, 'error').mockImplementation((line, ...rest) => {
      if (String(line).startsWith(failure)) {
        failures += 1
        if (failures === 4) bindings.DQ_CONNECTION_BUDGET = budget
      }
      print(line, ...rest)
    })
    bindings.DQ_CONNECTION_BUDGET = 'lots'
    try {
      const deployed = env.DQ_QUEUE
      if (!deployed) throw new Error('no DQ_QUEUE binding (wrangler.toml [env.queues])')
      await deployed.send(broken, { contentType: 'json' })
      const run = await finishedRun(ticks[4])
      // Delivered once and retried three times, each time thrown: no more after the dead letter.
      expect(failures).toBe(4)
      const results = await resultsOf(run.id)
      expect(results).toHaveLength(FAN_OUT_CHECKS)
      expect(new Set(results.map((r) => r.check_name)).size).toBe(FAN_OUT_CHECKS)
      const neverRan = results.filter((r) => r.error_code === 'never_ran')
      expect(neverRan.map((r) => r.check_name).sort()).toEqual(names(range(240, 260)))
      // The handler threw before it could note a failure in the database.
      for (const result of neverRan) {
        expect(result.error).toMatch(
          /^never ran: its batch \(part 13 of 25\) was given up on without a recorded failure \(dead-letter queue dq-checks-dlq\)/,
        )
      }
      expect(results.filter((r) => r.status === 'error')).toHaveLength(20)
      expect(await slackSettledAt(before + 1)).toHaveLength(before + 1)
    } finally {
      bindings.DQ_CONNECTION_BUDGET = budget
      logged.mockRestore()
    }
  })

  it('a malformed message, or one for a run this database does not know, is acked and dropped, not retried', async () => {
    const outcome = await deliver(FAN_OUT_QUEUE, [
      { v: 2, run_id: 'nope' },
      'not even an object',
      {
        v: 1,
        run_id: '00000000-0000-4000-8000-000000000000',
        part: 0,
        parts: 1,
        checks: [checkName(0)],
      },
    ])
    expect(outcome.retryMessages).toEqual([])
    expect(outcome.explicitAcks.sort()).toEqual(['m-0', 'm-1', 'm-2'])
    expect(outcome.retryBatch.retry).toBe(false)
  })
})
