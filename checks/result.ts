/**
 * The result contract: what `dq run --json`, the HTTP API and history return.
 *
 * @example
 * ```ts
 * const run: RunResult = await runChecks(db, checks, { trigger: 'cli' })
 * run.results[0] // { check, kind, status, value, threshold, details, sample, duration_ms, error }
 * ```
 */
import { z } from 'zod'
import { CHECK_KINDS, ThresholdSchema } from './catalog.ts'

export const StatusSchema = z.enum(['pass', 'warn', 'fail', 'error'])
export type Status = z.infer<typeof StatusSchema>

export const TriggerSchema = z.enum(['cron', 'http', 'cli'])
export type RunTrigger = z.infer<typeof TriggerSchema>

/** What `dq.run_check(spec)` returns from the database. */
export const MeasurementSchema = z.object({
  value: z.number(),
  details: z.record(z.string(), z.unknown()),
  sample: z.array(z.unknown()),
})
export type Measurement = z.infer<typeof MeasurementSchema>

export const CheckResultSchema = z.object({
  check: z.string(),
  kind: z.enum(CHECK_KINDS),
  status: StatusSchema,
  value: z.number().nullable(),
  threshold: ThresholdSchema,
  details: z.record(z.string(), z.unknown()),
  sample: z.array(z.unknown()),
  duration_ms: z.number().int().nonnegative(),
  error: z.string().nullable(),
})
export type CheckResult = z.infer<typeof CheckResultSchema>

export const RunResultSchema = z.object({
  run_id: z.uuid(),
  trigger: TriggerSchema,
  started_at: z.string(),
  duration_ms: z.number().int().nonnegative(),
  results: z.array(CheckResultSchema),
})
export type RunResult = z.infer<typeof RunResultSchema>

/** A stored result, as `dq history` returns it: the result plus its run. */
export const HistoryEntrySchema = CheckResultSchema.extend({
  run_id: z.string(),
  trigger: TriggerSchema,
  started_at: z.string(),
})
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>

const STATUS_RANK: Record<Status, number> = { pass: 0, warn: 1, fail: 2, error: 3 }

/** The worst status of a run: error > fail > warn > pass. */
export function worstStatus(results: readonly { status: Status }[]): Status {
  return results.reduce<Status>(
    (worst, { status }) => (STATUS_RANK[status] > STATUS_RANK[worst] ? status : worst),
    'pass',
  )
}

/** `dq run`'s exit code: 0 pass or warn, 1 any fail, 2 any error. */
export function exitCodeFor(results: readonly { status: Status }[]): 0 | 1 | 2 {
  const worst = worstStatus(results)
  return worst === 'error' ? 2 : worst === 'fail' ? 1 : 0
}

export function statusRank(status: Status): number {
  return STATUS_RANK[status]
}
