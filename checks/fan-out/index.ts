/**
 * Fan-out on Queues: a scheduled tick too big for one invocation.
 *
 * 1. The tick (the producer, `startFanOut`) claims its idempotency key as an
 *    inline tick does, stores its due checks (dq.claim_fan_out), and sends
 *    them to the Queue as messages of a few check names each (message.ts).
 * 2. Consumers (`consumeBatch`) run each message's checks, at most the
 *    connection budget at once, and record them under the tick's run
 *    (dq.record_fan_out): each check once, however often a message is
 *    delivered.
 * 3. The call that records the tick's last check is told so by the database,
 *    once: its consumer hands the finished tick to `onFinished` (the Worker
 *    runs the alert policy there), so a tick posts one Slack message.
 * 4. A message the Queue gives up on lands in the dead-letter queue, whose
 *    consumer records its unrecorded checks as never ran (error_code
 *    "never_ran"): the tick still finishes, and its run says what never ran.
 *
 * Nothing here throws to say a message failed: a failed message is retried
 * (message.retry()), a malformed one is logged and acked.
 *
 * @example
 * ```ts
 * const started = await startFanOut(port, queue, { checks, catalog, cron, at, idempotencyKey, checksPerMessage: 20 })
 * // in the queue handler:
 * await consumeBatch(port, batch, { deadLetter: false, connectionBudget: 4, onFinished: notify })
 * ```
 */
import { codeOf, DqError, messageOf } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import type { ResolvedCheck } from '../catalog.ts'
import type { CheckResult } from '../result.ts'
import { runCheck } from '../run-checks.ts'
import { type PartMessage, PartMessageSchema, partLabel, partsOf } from './message.ts'
import type { PartQueue } from './settings.ts'
import {
  claimFanOut,
  type FinishedTick,
  fanOutFailures,
  fanOutPart,
  noteFanOutFailure,
  type RecordedPart,
  recordFanOut,
} from './store.ts'

export { type PartMessage, PartMessageSchema, partsOf } from './message.ts'
export { type FanOutSettings, fanOutSettings, type PartQueue } from './settings.ts'
export type { FinishedTick } from './store.ts'

/** Queues' limit on one sendBatch call. */
const SEND_BATCH_LIMIT = 100
/** A part with checks another run held comes back after this long. */
const HELD_RETRY_SECONDS = 10

export type FanOutTick = {
  /** The tick's due checks, in order. */
  checks: readonly ResolvedCheck[]
  /** The whole expanded catalog at the tick (the alert policy resolves removed checks with it). */
  catalog: readonly ResolvedCheck[]
  cron: string
  at: Date
  idempotencyKey: string
  checksPerMessage: number
}

export type FanOutStart = {
  run_id: string
  /** Another delivery of the same tick has it: nothing was sent. */
  duplicate: boolean
  /** Messages sent to the queue, and the checks in them. */
  sent: number
  checks: number
  /** Sends that failed: their checks were recorded as never ran. */
  problems: string[]
  /** Set when this call recorded the tick's last check (every send failed, say). */
  finished?: FinishedTick
}

/** Claims the tick, stores its due checks and sends them to the queue. */
export async function startFanOut(
  port: DatabasePort,
  queue: PartQueue,
  tick: FanOutTick,
): Promise<FanOutStart> {
  const runId = crypto.randomUUID()
  const due = tick.checks.map((check) => check.name)
  const claimed = await claimFanOut(port, {
    run_id: runId,
    trigger: 'cron',
    started_at: tick.at.toISOString(),
    idempotency_key: tick.idempotencyKey,
    cron: tick.cron,
    catalog: tick.catalog,
    due,
  })
  const start: FanOutStart = {
    run_id: runId,
    duplicate: !claimed,
    sent: 0,
    checks: due.length,
    problems: [],
  }
  if (!claimed) return start
  const messages = partsOf(runId, due, tick.checksPerMessage)
  const byName = new Map(tick.checks.map((check) => [check.name, check]))
  for (let first = 0; first < messages.length; first += SEND_BATCH_LIMIT) {
    const chunk = messages.slice(first, first + SEND_BATCH_LIMIT)
    try {
      await queue.sendBatch(chunk.map((body) => ({ body, contentType: 'json' as const })))
      start.sent += chunk.length
    } catch (error) {
      // Never sent, so never run: said in the tick's run, which still finishes.
      const why = `its batch could not be queued: ${messageOf(error)}`
      start.problems.push(`${chunk.length} message(s) not queued: ${messageOf(error)}`)
      for (const message of chunk) {
        const checks = message.checks.flatMap((name) => byName.get(name) ?? [])
        const recorded = await recordFanOut(port, {
          run_id: runId,
          results: checks.map((check) => neverRan(check, why)),
        })
        if (recorded.finished) start.finished = recorded.tick
      }
    }
  }
  return start
}

export type ConsumeOptions = {
  /** The dead-letter queue's batch: its checks are recorded as never ran, not run. */
  deadLetter: boolean
  /** Checks one invocation runs at once (each holds a connection). */
  connectionBudget: number
  /** The tick's last check was recorded by this invocation: run its alert policy. Must not throw. */
  onFinished: (tick: FinishedTick) => Promise<void>
  log?: Pick<Console, 'log' | 'warn' | 'error'>
}

/** The parts of a Queue message batch fan-out uses (a structural MessageBatch). */
export type PartBatch = {
  queue: string
  messages: readonly {
    id: string
    body: unknown
    attempts: number
    ack(): void
    retry(options?: { delaySeconds?: number }): void
  }[]
}

export type MessageOutcome =
  | { id: string; outcome: 'recorded'; run_id: string; recorded: number; finished: boolean }
  | { id: string; outcome: 'invalid'; problem: string }
  | { id: string; outcome: 'unknown_run'; run_id: string }
  | { id: string; outcome: 'retry'; run_id: string; problem: string }

/**
 * Runs (or, from the dead-letter queue, gives up on) each message of a batch,
 * one after another, and acks or retries each. Never throws.
 */
export async function consumeBatch(
  port: DatabasePort,
  batch: PartBatch,
  options: ConsumeOptions,
): Promise<MessageOutcome[]> {
  const log = options.log ?? console
  const outcomes: MessageOutcome[] = []
  for (const message of batch.messages) {
    const parsed = PartMessageSchema.safeParse(message.body)
    if (!parsed.success) {
      // Retrying cannot fix it: said once, then dropped.
      const problem = `dq-monitor: queue ${batch.queue}: message ${message.id} is not a fan-out part, dropped: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
        .join('; ')}`
      log.error(problem)
      message.ack()
      outcomes.push({ id: message.id, outcome: 'invalid', problem })
      continue
    }
    const part = parsed.data
    try {
      const recorded = options.deadLetter
        ? await giveUpPart(port, part, batch.queue)
        : await runPart(port, part, options.connectionBudget)
      if (recorded === undefined) {
        log.warn(
          `dq-monitor: queue ${batch.queue}: run ${part.run_id} is not a fanned-out tick here (deleted, or another database): ${partLabel(part)} dropped`,
        )
        message.ack()
        outcomes.push({ id: message.id, outcome: 'unknown_run', run_id: part.run_id })
        continue
      }
      if (recorded.finished) await options.onFinished(recorded.tick)
      if (recorded.held.length > 0 && !recorded.finished) {
        // Another run holds them (this part delivered twice at once, or an HTTP run): the part
        // comes back later and runs what is still unrecorded then.
        throw new DqError(
          'check_running',
          `${recorded.held.length} check(s) held by another run, not recorded: ${recorded.held.join(', ')}`,
        )
      }
      message.ack()
      outcomes.push({
        id: message.id,
        outcome: 'recorded',
        run_id: part.run_id,
        recorded: recorded.recorded,
        finished: recorded.finished,
      })
    } catch (error) {
      const problem = messageOf(error)
      log.error(
        `dq-monitor: queue ${batch.queue}: run ${part.run_id} ${partLabel(part)} failed (attempt ${message.attempts}), retried: ${problem}`,
      )
      if (!options.deadLetter) {
        // Best effort: the dead-letter consumer says how often and why, if it comes to that.
        await noteFanOutFailure(port, { run_id: part.run_id, part: part.part, error: problem })
          .then(() => {})
          .catch(() => {})
      }
      // A check another run holds is usually done within seconds: come back a little later.
      message.retry(codeOf(error) === 'check_running' ? { delaySeconds: HELD_RETRY_SECONDS } : {})
      outcomes.push({ id: message.id, outcome: 'retry', run_id: part.run_id, problem })
    }
  }
  return outcomes
}

/** A part recorded; `held`: its checks another run held (check_running), left unrecorded. */
export type PartOutcome = RecordedPart & { held: string[] }

/**
 * Runs a part's checks not yet recorded, `budget` at once, and records them,
 * but for those another run holds (`held`: the part must come back for them).
 * Throws when the part must be retried: the database as a whole failed
 * (unreachable, not migrated), or recording did. Undefined: no such tick.
 */
async function runPart(
  port: DatabasePort,
  part: PartMessage,
  budget: number,
): Promise<PartOutcome | undefined> {
  const stored = await fanOutPart(port, { run_id: part.run_id, checks: part.checks })
  if (!stored.found) return undefined
  // A redelivered part whose checks are all recorded runs nothing.
  if (stored.checks.length === 0) return { finished: false, recorded: 0, held: [] }
  const results = await mapBounded(stored.checks, budget, (check) =>
    // Parts are cron ticks: unchanged tables are answered from their last full scan.
    runCheck(port, check, { singleFlight: 'error', scan: 'changed' }),
  )
  // "Already running" says nothing about the check: recorded first, it would hide the
  // measurement of the delivery that holds it.
  const held = results.filter((result) => result.error_code === 'check_running')
  const recorded = await recordFanOut(port, {
    run_id: part.run_id,
    results: results.filter((result) => result.error_code !== 'check_running'),
  })
  return { ...recorded, held: held.map((result) => result.check) }
}

/**
 * The dead-letter queue's part: its checks not yet recorded are recorded as
 * never ran, with how often and why its batch failed when that was noted.
 */
async function giveUpPart(
  port: DatabasePort,
  part: PartMessage,
  queueName: string,
): Promise<PartOutcome | undefined> {
  const stored = await fanOutPart(port, { run_id: part.run_id, checks: part.checks })
  if (!stored.found) return undefined
  if (stored.checks.length === 0) return { finished: false, recorded: 0, held: [] }
  const failures = await fanOutFailures(port, part).catch(() => null)
  const why = failures
    ? `its batch (${partLabel(part)}) failed ${failures.attempts} time${failures.attempts === 1 ? '' : 's'} (dead-letter queue ${queueName}); last error: ${failures.error}`
    : `its batch (${partLabel(part)}) was given up on without a recorded failure (dead-letter queue ${queueName}): the consumer may have run out of time or memory`
  const recorded = await recordFanOut(port, {
    run_id: part.run_id,
    results: stored.checks.map((check) => neverRan(check, why)),
  })
  return { ...recorded, held: [] }
}

/** The result of a check that never ran (error_code "never_ran"). */
function neverRan(check: ResolvedCheck, why: string): CheckResult {
  return {
    check: check.name,
    kind: check.kind,
    status: 'error',
    severity: check.severity,
    owner: check.owner ?? null,
    value: null,
    threshold: check.threshold,
    details: {},
    sample: [],
    duration_ms: 0,
    error: `never ran: ${why}`,
    error_code: 'never_ran',
  }
}

/**
 * `fn` over `items`, at most `limit` at once, results in the items' order.
 * The first rejection rejects the whole (after the running ones settle).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++
      try {
        results[index] = await fn(items[index] as T)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane))
  if (failure) throw failure.error
  return results
}
