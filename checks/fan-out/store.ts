/**
 * What fan-out asks of the database (supabase/schemas/11_fan_out.sql), with
 * every reply validated here, at the boundary.
 *
 * @example
 * ```ts
 * await claimFanOut(port, { run_id, trigger: 'cron', started_at, idempotency_key, cron, catalog, due })
 * const part = await fanOutPart(port, { run_id, checks: ['a', 'b'] })
 * const recorded = await recordFanOut(port, { run_id, results })
 * if (recorded.finished) notify(recorded.tick)
 * ```
 */
import { z } from 'zod'
import { isoTimestamp, parseReply } from '../../kernel/parse.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import type { ResolvedCheck } from '../catalog.ts'
import { type CheckResult, CheckResultSchema, RunTriggerSchema } from '../result.ts'
import type { RunOutcome } from '../run-checks.ts'
import type { RunClaim } from '../store.ts'

/** A resolved check as the tick stored it (our own write, read back by name and kind). */
const StoredCheckSchema = z
  .looseObject({ name: z.string(), kind: z.string() })
  .transform((check) => check as unknown as ResolvedCheck)

export type FanOutClaim = RunClaim & {
  cron: string
  /** The expanded catalog at the tick. */
  catalog: readonly ResolvedCheck[]
  /** The names of the tick's due checks, in order. */
  due: readonly string[]
}

/** Claims the tick and registers its due checks; false when another delivery has it. */
export async function claimFanOut(port: DatabasePort, run: FanOutClaim): Promise<boolean> {
  const reply = await port.call('claim_fan_out', { run })
  return parseReply(z.object({ claimed: z.boolean() }), reply, 'fan-out claim').claimed
}

const PartReplySchema = z.discriminatedUnion('found', [
  z.object({ found: z.literal(false) }),
  z.object({
    found: z.literal(true),
    finished: z.boolean(),
    trigger: RunTriggerSchema,
    started_at: z.union([z.string(), z.date()]).transform(isoTimestamp),
    /** The part's checks due at the tick and not yet recorded. */
    checks: z.array(StoredCheckSchema),
  }),
])
export type PartReply = z.infer<typeof PartReplySchema>

/** The specs of a part's checks still to record (none when redelivered after recording). */
export async function fanOutPart(
  port: DatabasePort,
  part: { run_id: string; checks: readonly string[] },
): Promise<PartReply> {
  return parseReply(PartReplySchema, await port.call('fan_out_part', { part }), 'fan-out part')
}

/** A stored result read back in the result contract's shape. */
const StoredResultSchema = CheckResultSchema.extend({
  value: z.coerce.number().nullable(),
  threshold: CheckResultSchema.shape.threshold.or(z.object({}).transform(() => null)),
})

/** Everything the alert policy needs for a finished tick. */
export type FinishedTick = {
  /** Recorded, by construction: the database finished it. */
  run: RunOutcome
  cron: string
  /** The tick's due checks, in order. */
  checks: ResolvedCheck[]
  /** The expanded catalog at the tick. */
  catalog: ResolvedCheck[]
}

const RecordReplySchema = z.discriminatedUnion('finished', [
  z.object({ finished: z.literal(false), recorded: z.number().int() }),
  z.object({
    finished: z.literal(true),
    recorded: z.number().int(),
    run: z.object({
      run_id: z.uuid(),
      trigger: RunTriggerSchema,
      started_at: z.union([z.string(), z.date()]).transform(isoTimestamp),
      duration_ms: z.number().int().nonnegative(),
      results: z.array(StoredResultSchema),
    }),
    cron: z.string(),
    catalog: z.array(StoredCheckSchema),
    due: z.array(z.string()),
  }),
])

export type RecordedPart =
  | { finished: false; recorded: number }
  | { finished: true; recorded: number; tick: FinishedTick }

/**
 * Records a part's results under the tick's run, each check once. The one
 * call that records the tick's last check gets `finished: true` and the tick.
 */
export async function recordFanOut(
  port: DatabasePort,
  part: { run_id: string; results: readonly CheckResult[] },
): Promise<RecordedPart> {
  const reply = parseReply(
    RecordReplySchema,
    await port.call('record_fan_out', { part }),
    'fan-out record',
  )
  if (!reply.finished) return reply
  const byName = new Map(reply.catalog.map((check) => [check.name, check]))
  return {
    finished: true,
    recorded: reply.recorded,
    tick: {
      run: { ...reply.run, recorded: true },
      cron: reply.cron,
      checks: reply.due.flatMap((name) => byName.get(name) ?? []),
      catalog: reply.catalog,
    },
  }
}

const FailuresSchema = z.object({ attempts: z.number().int(), error: z.string() }).nullable()
export type PartFailures = z.infer<typeof FailuresSchema>

/** Notes that a part's delivery failed (it goes back to the queue); its failures so far. */
export async function noteFanOutFailure(
  port: DatabasePort,
  part: { run_id: string; part: number; error: string },
): Promise<PartFailures> {
  const reply = await port.call('note_fan_out_failure', { part })
  return parseReply(FailuresSchema, reply, 'fan-out failure')
}

/** How a part fared before the queue gave up on it (null: no failure was noted). */
export async function fanOutFailures(
  port: DatabasePort,
  part: { run_id: string; part: number },
): Promise<PartFailures> {
  const reply = await port.call('fan_out_failures', { part })
  return parseReply(FailuresSchema, reply, 'fan-out failures')
}
