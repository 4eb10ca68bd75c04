// Fan-out's database side on PGlite and real PostgreSQL (supabase/schemas/11_fan_out.sql
// through checks/fan-out): a tick claimed once, each check recorded once however its
// parts are delivered, exactly one call told it finished the tick, failed parts counted
// for the dead-letter message, and sends that fail recorded as never ran.
import { describe, expect, it } from 'vitest'
import { parseCatalog, type ResolvedCheck } from '../checks/catalog.ts'
import {
  consumeBatch,
  type FinishedTick,
  type PartBatch,
  type PartMessage,
  partsOf,
  startFanOut,
} from '../checks/fan-out/index.ts'
import { recordFanOut } from '../checks/fan-out/store.ts'
import type { CheckResult } from '../checks/result.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { DqError } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { engines, useDatabase } from './support/databases.ts'

const FIXTURE = `
create schema fo;
create table fo.items (id int primary key, n int not null);
insert into fo.items select i, i % 10 from generate_series(1, 100) i;`

/** Check i fails when some row has n = i (i < 10). */
function catalog(count: number, prefix = 'fo'): ResolvedCheck[] {
  return parseCatalog({
    checks: Array.from({ length: count }, (_, i) => ({
      name: `${prefix}_${String(i).padStart(3, '0')}`,
      kind: 'rows',
      table: 'fo.items',
      where: `n = ${i}`,
    })),
  }).checks
}

/** A queue that keeps what it is sent, or refuses it. */
function queue(refuse?: string) {
  const sent: PartMessage[] = []
  return {
    sent,
    async sendBatch(messages: Iterable<{ body: PartMessage }>) {
      if (refuse) throw new Error(refuse)
      for (const message of messages) sent.push(message.body)
    },
  }
}

/** A batch whose messages say whether they were acked or retried (and with what delay). */
function batch(queueName: string, bodies: unknown[]) {
  const settled: Record<string, 'ack' | 'retry'> = {}
  const delays: Record<string, number | undefined> = {}
  const value: PartBatch = {
    queue: queueName,
    messages: bodies.map((body, i) => ({
      id: `m${i}`,
      body,
      attempts: 1,
      ack: () => {
        settled[`m${i}`] = 'ack'
      },
      retry: (options?: { delaySeconds?: number }) => {
        settled[`m${i}`] = 'retry'
        delays[`m${i}`] = options?.delaySeconds
      },
    })),
  }
  return { batch: value, settled, delays }
}

let tickNumber = 0
/** A fresh tick's time (each test claims its own). */
const nextTick = () => new Date(Date.UTC(2026, 10, 1, tickNumber++))

async function start(port: DatabasePort, checks: ResolvedCheck[], q = queue(), size = 4) {
  const started = await startFanOut(port, q, {
    checks,
    catalog: checks,
    cron: '0 * * * *',
    at: nextTick(),
    idempotencyKey: `fan-out-test@${tickNumber}`,
    checksPerMessage: size,
  })
  return { started, sent: q.sent }
}

describe.each(engines())('fan-out on %s', (engine) => {
  const database = useDatabase(engine)

  it('claims a tick once; its parts are recorded once each; one call finishes it', async () => {
    const db = database()
    await db.exec(FIXTURE)
    const checks = catalog(10)
    const q = queue()
    const first = await startFanOut(db.db, q, {
      checks,
      catalog: checks,
      cron: '0 * * * *',
      at: nextTick(),
      idempotencyKey: 'fan-out-test@claim',
      checksPerMessage: 4,
    })
    const again = await startFanOut(db.db, q, {
      checks,
      catalog: checks,
      cron: '0 * * * *',
      at: nextTick(),
      idempotencyKey: 'fan-out-test@claim',
      checksPerMessage: 4,
    })
    expect(first).toMatchObject({ duplicate: false, sent: 3, checks: 10, problems: [] })
    expect(again).toMatchObject({ duplicate: true, sent: 0 })
    expect(q.sent.map((m) => m.checks.length)).toEqual([4, 4, 2])

    const finished: FinishedTick[] = []
    const options = {
      deadLetter: false,
      connectionBudget: 2,
      onFinished: async (tick: FinishedTick) => {
        finished.push(tick)
      },
    }
    // Part 1, then every part, then every part again.
    for (const bodies of [[q.sent[1]], q.sent, q.sent]) {
      const { batch: b, settled } = batch('dq-checks', bodies)
      await consumeBatch(db.db, b, options)
      expect(Object.values(settled).every((s) => s === 'ack')).toBe(true)
    }
    expect(finished).toHaveLength(1)
    const tick = finished[0] as FinishedTick
    expect(tick.run.run_id).toBe(first.run_id)
    expect(tick.run.results.map((r) => r.check).sort()).toEqual(checks.map((c) => c.name))
    // n = 0..9 all occur: every check fails with 10 rows.
    expect(tick.run.results.every((r) => r.status === 'fail' && r.value === 10)).toBe(true)
    expect(tick.checks.map((c) => c.name)).toEqual(checks.map((c) => c.name))
    const [run] = await db.query<{ completed: boolean; counts: unknown; n: number }>(
      `select completed, counts, (select count(*)::int from dq.results where run_id = r.id) as n
       from dq.runs r where id = '${first.run_id}'`,
    )
    expect(run).toMatchObject({ completed: true, n: 10 })
    expect(typeof run?.counts === 'string' ? JSON.parse(run.counts) : run?.counts).toEqual({
      fail: 10,
    })
  })

  it('only the tick’s due checks are taken, each once, whatever a message says', async () => {
    const db = database()
    const checks = catalog(3, 'due')
    const { started } = await start(db.db, checks)
    const result = (check: string): CheckResult => ({
      check,
      kind: 'rows',
      status: 'pass',
      severity: 'warning',
      owner: null,
      value: 0,
      threshold: { fail: 0, metric: 'count' },
      details: {},
      sample: [],
      duration_ms: 1,
      error: null,
      error_code: null,
    })
    const first = await recordFanOut(db.db, {
      run_id: started.run_id,
      results: [result('due_000'), result('due_000'), result('not_due')],
    })
    expect(first).toEqual({ finished: false, recorded: 1 })
    const rest = await recordFanOut(db.db, {
      run_id: started.run_id,
      results: [result('due_000'), result('due_001'), result('due_002')],
    })
    expect(rest).toMatchObject({ finished: true, recorded: 2 })
    const late = await recordFanOut(db.db, {
      run_id: started.run_id,
      results: [result('due_002')],
    })
    expect(late).toEqual({ finished: false, recorded: 0 })
  })

  it('a part that fails is retried and counted; from the dead-letter queue its checks never ran', async () => {
    const db = database()
    const checks = catalog(6, 'dead')
    const { started, sent } = await start(db.db, checks, queue(), 3)
    // Recording fails (the database refuses it) on every delivery of the first part.
    const failing: DatabasePort = {
      label: db.db.label,
      migrate: () => db.db.migrate(),
      close: async () => {},
      call: (fn, args, options) =>
        fn === 'record_fan_out'
          ? Promise.reject(new DqError('database', 'disk full'))
          : db.db.call(fn, args, options),
    }
    const finished: FinishedTick[] = []
    const options = (deadLetter: boolean) => ({
      deadLetter,
      connectionBudget: 3,
      onFinished: async (tick: FinishedTick) => {
        finished.push(tick)
      },
    })
    for (let attempt = 0; attempt < 2; attempt++) {
      const { batch: b, settled } = batch('dq-checks', [sent[0]])
      const [outcome] = await consumeBatch(failing, b, options(false))
      expect(settled).toEqual({ m0: 'retry' })
      expect(outcome).toMatchObject({ outcome: 'retry', problem: 'disk full' })
    }
    await consumeBatch(db.db, batch('dq-checks', [sent[1]]).batch, options(false))
    expect(finished).toHaveLength(0)
    const { batch: dead, settled } = batch('dq-checks-dlq', [sent[0]])
    await consumeBatch(db.db, dead, options(true))
    expect(settled).toEqual({ m0: 'ack' })
    expect(finished).toHaveLength(1)
    const results = finished[0]?.run.results ?? []
    const never = results.filter((r) => r.error_code === 'never_ran')
    expect(never.map((r) => r.check)).toEqual(['dead_000', 'dead_001', 'dead_002'])
    expect(never[0]).toMatchObject({
      status: 'error',
      error:
        'never ran: its batch (part 1 of 2) failed 2 times (dead-letter queue dq-checks-dlq); last error: disk full',
    })
    expect(results.filter((r) => r.error_code === null)).toHaveLength(3)
    expect(finished[0]?.run.run_id).toBe(started.run_id)
  })

  it('sends that fail record their checks as never ran, and the tick still finishes', async () => {
    const db = database()
    const checks = catalog(5, 'unsent')
    const { started } = await start(db.db, checks, queue('queue unavailable'), 2)
    expect(started.sent).toBe(0)
    expect(started.problems).toEqual(['3 message(s) not queued: queue unavailable'])
    expect(started.finished?.run.results).toHaveLength(5)
    expect(
      started.finished?.run.results.every(
        (r) =>
          r.error_code === 'never_ran' &&
          r.error === 'never ran: its batch could not be queued: queue unavailable',
      ),
    ).toBe(true)
  })

  it('a message for a run this database does not know is acked', async () => {
    const [body] = partsOf('00000000-0000-4000-8000-000000000001', ['x'], 1)
    const { batch: b, settled } = batch('dq-checks', [body])
    const [outcome] = await consumeBatch(database().db, b, {
      deadLetter: false,
      connectionBudget: 1,
      onFinished: async () => {},
    })
    expect(settled).toEqual({ m0: 'ack' })
    expect(outcome?.outcome).toBe('unknown_run')
  })

  it.runIf(engine === 'postgres')(
    'a check another run holds is not recorded as "already running": its part records the rest and comes back later for it',
    async () => {
      const db = database()
      const checks = catalog(3, 'held')
      const { started, sent } = await start(db.db, checks, queue(), 3)
      // The owner's session (not the adapter's) holds held_001's single-flight lock.
      const finished: FinishedTick[] = []
      const options = {
        deadLetter: false,
        connectionBudget: 2,
        onFinished: async (tick: FinishedTick) => {
          finished.push(tick)
        },
      }
      try {
        await db.exec(`select pg_advisory_lock(hashtext('dq-monitor'), hashtext('held_001'))`)
        const first = batch('dq-checks', [sent[0]])
        const [outcome] = await consumeBatch(db.db, first.batch, options)
        expect(first.settled).toEqual({ m0: 'retry' })
        expect(first.delays).toEqual({ m0: 10 })
        expect(outcome).toMatchObject({
          outcome: 'retry',
          problem: expect.stringContaining('held_001'),
        })
        const recorded = await db.query<{ check_name: string }>(
          `select check_name from dq.results where run_id = '${started.run_id}' order by 1`,
        )
        expect(recorded.map((r) => r.check_name)).toEqual(['held_000', 'held_002'])
        expect(finished).toHaveLength(0)
      } finally {
        await db.exec(`select pg_advisory_unlock(hashtext('dq-monitor'), hashtext('held_001'))`)
      }
      const again = batch('dq-checks', [sent[0]])
      await consumeBatch(db.db, again.batch, options)
      expect(again.settled).toEqual({ m0: 'ack' })
      expect(finished).toHaveLength(1)
      expect(finished[0]?.run.results.map((r) => [r.check, r.error_code])).toEqual([
        ['held_000', null],
        ['held_002', null],
        ['held_001', null],
      ])
    },
  )

  it.runIf(engine === 'postgres')(
    'parts recorded at once on separate connections, each twice: every check once, one call finishes the tick',
    async () => {
      const db = database()
      const checks = catalog(40, 'race')
      const { started, sent } = await start(db.db, checks, queue(), 5)
      expect(sent).toHaveLength(8)
      const ports = Array.from({ length: 16 }, () =>
        PgDatabase.connect(db.url as string, { max: 1 }),
      )
      const finished: FinishedTick[] = []
      try {
        await Promise.all(
          [...sent, ...sent.toReversed()].map((body, i) =>
            consumeBatch(ports[i] as DatabasePort, batch('dq-checks', [body]).batch, {
              deadLetter: false,
              connectionBudget: 1,
              onFinished: async (tick) => {
                finished.push(tick)
              },
            }),
          ),
        )
      } finally {
        await Promise.all(ports.map((p) => p.close()))
      }
      // A copy that found a check held by its twin left it to the twin (and would come back).
      expect(finished).toHaveLength(1)
      const results = finished[0]?.run.results ?? []
      expect(results).toHaveLength(40)
      expect(new Set(results.map((r) => r.check)).size).toBe(40)
      expect(results.some((r) => r.error_code === 'check_running')).toBe(false)
      expect(finished[0]?.run.run_id).toBe(started.run_id)
    },
  )
})
