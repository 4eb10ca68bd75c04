/**
 * The result contract: what `dq run --json`, the HTTP API and history return.
 * A result says what it means on its own: its severity and owner travel with
 * it (no re-join with the catalog by name), and a check that could not run
 * carries an `error_code` (`check_running` when another run held it).
 *
 * @example
 * ```ts
 * const run: RunResult = await runChecks(port, checks, { trigger: 'cli' })
 * run.results[0] // { check, kind, status, severity, owner, value, threshold, details, sample, ... }
 * ```
 */
import { z } from 'zod'
import { DqError, ErrorCodeSchema } from '../kernel/errors.ts'
import { expectedText, rangeText, zText } from './expected.ts'
import { SeveritySchema } from './fields.ts'
import { pct } from './kind.ts'
import { CheckKindSchema, kindOf } from './kinds/index.ts'
import { evaluateThreshold, type Threshold, type Verdict } from './threshold.ts'

export const StatusSchema = z.enum(['pass', 'warn', 'fail', 'error'])
export type Status = z.infer<typeof StatusSchema>

/** What started a run (not to be confused with the `trigger` check kind). */
export const RunTriggerSchema = z.enum(['cron', 'http', 'cli'])
export type RunTrigger = z.infer<typeof RunTriggerSchema>

/**
 * What `dq.run_check(spec)` returns from the database. `value` is null only
 * when the kind has no number to give (freshness of an empty table); the
 * kind's `verdict` then gives the status.
 */
export const MeasurementSchema = z.object({
  value: z.number().nullable(),
  details: z.record(z.string(), z.unknown()),
  sample: z.array(z.unknown()),
})
export type Measurement = z.infer<typeof MeasurementSchema>

/** `details.anomaly` of a check with the `anomaly` option. */
export const AnomalyDetailsSchema = z.looseObject({
  /** Which test made the status: the anomaly test, the threshold, both, or neither (null). */
  fired: z.enum(['anomaly', 'threshold', 'both']).nullable(),
  anomalous: z.boolean(),
  metric: z.enum(['value', 'ratio']),
  figure: z.number().nullable(),
  /** [low, high]: mean ± sensitivity × stddev of the training figures; null without enough of them. */
  expected: z.tuple([z.number(), z.number()]).nullable(),
  mean: z.number().nullable(),
  stddev: z.number().nullable(),
  z: z.number().nullable(),
  /** Training results compared. */
  training: z.number(),
  recent: z.array(z.number()),
  /** insufficient_training, or partial_scope (an incremental or sampled run is not compared). */
  reason: z.string().nullable(),
})
export type AnomalyDetails = z.infer<typeof AnomalyDetailsSchema>

/** A threshold as a result reports it (catalog thresholds are checked in checks/threshold.ts). */
const ReportedThresholdSchema = z.object({
  warn: z.number().optional(),
  fail: z.number().optional(),
  metric: z.enum(['count', 'ratio']),
})

export const CheckResultSchema = z.object({
  check: z.string(),
  kind: CheckKindSchema,
  status: StatusSchema,
  severity: SeveritySchema,
  owner: z.string().nullable(),
  value: z.number().nullable(),
  /** null when no threshold applies: the status came from the anomaly test (volume, or `anomaly` alone). */
  threshold: ReportedThresholdSchema.nullable(),
  details: z.record(z.string(), z.unknown()),
  sample: z.array(z.unknown()),
  duration_ms: z.number().int().nonnegative(),
  error: z.string().nullable(),
  /** Why the check could not run, as a code (null unless status is error). */
  error_code: ErrorCodeSchema.nullable(),
})
export type CheckResult = z.infer<typeof CheckResultSchema>

const RunResultSchema = z.object({
  run_id: z.uuid(),
  trigger: RunTriggerSchema,
  started_at: z.string(),
  duration_ms: z.number().int().nonnegative(),
  results: z.array(CheckResultSchema),
})
export type RunResult = z.infer<typeof RunResultSchema>

/** A stored result, as `dq history` returns it: the result plus its run. */
export const HistoryEntrySchema = CheckResultSchema.extend({
  // A kind this version no longer has, or a result recorded before severity was kept.
  kind: z.string(),
  severity: SeveritySchema.nullable(),
  error_code: z.string().nullable(),
  run_id: z.string(),
  trigger: RunTriggerSchema,
  started_at: z.string(),
})
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>

/**
 * The status of a measurement: the kind's own verdict when it gives one
 * (freshness of an empty table is `fail`), else the threshold's. A value of
 * null that its kind does not judge cannot be compared: an error.
 *
 * @example
 * ```ts
 * measuredStatus({ kind: 'rows', threshold: { fail: 0, metric: 'count' } }, { value: 3, details: {}, sample: [] }) // 'fail'
 * ```
 */
export function measuredStatus(
  check: { kind: string; threshold: Threshold | null },
  measurement: Measurement,
): Verdict {
  const kind = kindOf(check.kind)
  const details = kind?.details.safeParse(measurement.details)
  const verdict =
    kind?.verdict && details?.success
      ? kind.verdict({ value: measurement.value, details: details.data })
      : undefined
  if (verdict) return verdict
  const { value } = measurement
  if (value === null) {
    throw new DqError(
      'internal',
      `the ${check.kind} check measured no value and its kind gives no status for that`,
    )
  }
  // No threshold applies (a check with only `anomaly`): the anomaly test alone can fail it.
  return check.threshold ? evaluateThreshold(check.threshold, { ...measurement, value }) : 'pass'
}

const STATUS_RANK: Record<Status, number> = { pass: 0, warn: 1, fail: 2, error: 3 }

/** The worst status of a run: error > fail > warn > pass. */
function worstStatus(results: readonly { status: Status }[]): Status {
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

/** Another run held the check: no measurement and no failure to measure, so no information. */
export function isCheckRunning(result: Pick<CheckResult, 'status' | 'error_code'>): boolean {
  return result.status === 'error' && result.error_code === 'check_running'
}

/** A result of an incremental run, which saw only the rows changed since the last. */
export function isIncremental(result: Pick<CheckResult, 'details'>): boolean {
  return result.details.scope === 'incremental'
}

/**
 * The one line that says what a result means, from its kind (checks/kinds):
 * what the CLI table, alerts and the status page show next to the value.
 *
 * @example
 * ```ts
 * keyFigure(result) // "8,000 mismatched, 0 missing, 346 unexpected of 10,000 rows (83.5%)"
 * ```
 */
export function keyFigure(
  result: Pick<CheckResult, 'status' | 'details' | 'error'> & {
    kind: string
    sample?: readonly unknown[]
  },
): string {
  if (result.status === 'error') return result.error ?? 'could not run'
  const figure = kindFigure(result)
  const anomaly = AnomalyDetailsSchema.safeParse(result.details.anomaly)
  return anomaly.success ? `${figure}; ${historyFigure(anomaly.data)}` : figure
}

function kindFigure(
  result: Pick<CheckResult, 'details'> & { kind: string; sample?: readonly unknown[] },
): string {
  const kind = kindOf(result.kind)
  const unreadable = `(details of a ${result.kind} check this version cannot read)`
  if (!kind) return unreadable
  const details = kind.details.safeParse(result.details)
  if (details.success) return kind.figure(details.data, result.sample)
  // A result from another version (history) may lack a field: show what is there.
  try {
    return kind.figure(result.details, result.sample)
  } catch {
    return unreadable
  }
}

/**
 * The range an anomaly test expected the figure in, when one ran: the
 * `anomaly` option's (details.anomaly.expected) or a volume check's
 * (details.low, details.high). "162.1–197.9"; null otherwise.
 */
export function expectedRange(result: Pick<CheckResult, 'details'>): string | null {
  const anomaly = AnomalyDetailsSchema.safeParse(result.details.anomaly)
  if (anomaly.success) {
    const range = anomaly.data.expected
    if (!range) return null
    return rangeText(range[0], range[1], anomaly.data.metric === 'ratio' ? pct : undefined)
  }
  const { low, high, reason } = result.details
  return typeof low === 'number' && typeof high === 'number' && !reason
    ? rangeText(low, high)
    : null
}

/** "history: 150 (expected 140.0–160.0) ▄▅▄▅▄▅█, z 4.20 over 96 results, anomalous" */
function historyFigure(a: AnomalyDetails): string {
  if (a.reason === 'partial_scope') return 'history: not compared (not a full run)'
  if (a.reason === 'insufficient_training' || a.figure === null) {
    return `history: ${a.training} result${a.training === 1 ? '' : 's'} to compare, too few to test`
  }
  const text = expectedText({
    figure: a.figure,
    low: a.expected?.[0],
    high: a.expected?.[1],
    recent: a.recent,
    ...(a.metric === 'ratio' ? { format: pct } : {}),
  })
  return `history: ${text}, z ${zText(a.z)} over ${a.training} results${a.anomalous ? ', anomalous' : ''}`
}
