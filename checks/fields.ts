/**
 * Field schemas shared by the check kinds (checks/kinds/*): SQL text from
 * trusted configuration, durations, incremental runs, and the fields every
 * check has. A kind builds its catalog schema from these.
 *
 * @example
 * ```ts
 * const Schema = z.strictObject({ ...commonFields, kind: z.literal('rows'), table, where: predicate })
 * ```
 */
import { z } from 'zod'
import { DurationSchema, PositiveDurationSchema } from '../kernel/duration.ts'
import { cronError } from './cron.ts'
import { ThresholdSchema } from './threshold.ts'

/** A SQL expression, predicate or table name from trusted configuration. */
/**
 * The message for a field that is not an object of the expected shape. Only
 * for the wrong type: an unknown key inside the object keeps zod's own
 * "Unrecognized key" issue, which names the key.
 */
export const notAnObject = (message: string) => ({
  error: (issue: { code?: string }) => (issue.code === 'invalid_type' ? message : undefined),
})

const sql = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .trim()
    .min(1, `must not be empty (${what})`)
    .refine((text) => !text.includes(';'), 'must be a single SQL expression: no ";"')
    .refine(
      (text) => !text.includes('--') && !text.includes('/*'),
      'must not contain SQL comments ("--" or "/*")',
    )

export const table = sql('a table or view: schema.table, or a quoted "Schema"."Table"')
export const expression = sql('a column name or SQL expression')
export const predicate = sql('a SQL predicate, as after WHERE')

/** Standard five-field cron, e.g. "0 * * * *" (UTC). */
export const cron = z
  .string()
  .trim()
  .superRefine((expression, ctx) => {
    const problem = cronError(expression)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

export const SeveritySchema = z.enum(['info', 'warning', 'critical'])
export type Severity = z.infer<typeof SeveritySchema>

const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/

export const CheckNameSchema = z
  .string()
  .regex(
    NAME_PATTERN,
    'must be lowercase letters, digits and "_", starting with a letter, at most 63 characters',
  )

export const TimeoutSecondsSchema = z.number().int().positive().max(3600)

/**
 * How far from its history a figure may go: the z-score test of the `volume`
 * kind and of the `anomaly` option (supabase/schemas/26_anomaly.sql). A
 * figure is anomalous outside mean ± sensitivity × stddev of its training
 * figures, in `direction`; with fewer than `minTraining` of them it never is.
 */
export const anomalyTestFields = {
  sensitivity: z
    .number()
    .positive('must be above 0 (3 flags about 3 in 1,000 normal values)')
    .optional(),
  direction: z.enum(['drop', 'spike', 'both']).optional(),
  /** Compare with the same weekday only (volume's hour buckets: the same hour of the week). */
  seasonality: z.enum(['none', 'day_of_week']).optional(),
  minTraining: z
    .number()
    .int()
    .min(2, 'must be at least 2 (a standard deviation needs two values)')
    .optional(),
}

/**
 * `anomaly` on any check (but volume, which is one): its value, or its
 * details.ratio with `metric: "ratio"`, against its own full-scope results in
 * history over `training` (default "14 days"), leaving out results that were
 * themselves anomalous. With a threshold too, the worse verdict wins.
 */
const AnomalySchema = z.strictObject(
  {
    ...anomalyTestFields,
    training: PositiveDurationSchema.optional(),
    metric: z.enum(['value', 'ratio']).optional(),
  },
  notAnObject(
    'must be an object { sensitivity?, direction?, seasonality?, training?, minTraining?, metric? }',
  ),
)
export type Anomaly = z.infer<typeof AnomalySchema>

/**
 * The fields every check has. They tell the runner and the alert policy what
 * to do with a measurement; none of them reaches the SQL that measures, but
 * `name` (single flight, incremental history) and `fullEvery` (unchanged answers).
 */
export const commonFields = {
  name: CheckNameSchema,
  description: z.string().optional(),
  threshold: ThresholdSchema.optional(),
  severity: SeveritySchema.optional(),
  owner: z.string().optional(),
  tags: z.array(z.string().min(1)).optional(),
  schedule: cron.optional(),
  timeoutSeconds: TimeoutSecondsSchema.optional(),
  enabled: z.boolean().optional(),
  /** While failing, notify again this often (alerts/policy); default: defaults.repeatInterval. */
  repeatInterval: PositiveDurationSchema.optional(),
  /** Compare the figure with the check's own history (checks/anomaly.ts). */
  anomaly: AnomalySchema.optional(),
  /**
   * The longest a check answers from its last full scan while its tables do
   * not change (supabase/schemas/27_unchanged.sql); default "24 hours".
   */
  fullEvery: PositiveDurationSchema.optional(),
}

/** The common fields only the runner and the policy read: stripped before the spec reaches SQL. */
export const RUNNER_FIELDS = [
  // name: single flight and history; fullEvery: when the database must scan again.
  ...Object.keys(commonFields).filter((field) => field !== 'name' && field !== 'fullEvery'),
  // Where a generated check came from (checks/generate.ts).
  'generated',
]

/**
 * Incremental runs: between full runs, only rows whose `column` moved past
 * the last successful run's watermark (kept in history) are checked.
 * `column` is a timestamp or date that every write moves forward; `lookback`
 * re-reads rows of transactions still open at the last run (default 10
 * minutes); `fullEvery` defaults to 24 hours.
 */
export const IncrementalSchema = z.strictObject(
  {
    column: expression,
    fullEvery: PositiveDurationSchema.optional(),
    lookback: DurationSchema.optional(),
  },
  notAnObject('must be an object { column, fullEvery?, lookback? }'),
)
export type Incremental = z.infer<typeof IncrementalSchema>

/** One side of a comparison between two tables: `{ table, key, where? }`. */
export const side = (what: string) =>
  z.strictObject(
    { table, key: expression, where: predicate.nullish() },
    notAnObject(`must be an object { table, key, where? } (${what})`),
  )

/**
 * What incremental, sampled and unchanged runs add to a kind's details.
 * `unchanged`: the check's tables did not change since its last full scan, so
 * that scan's result is the answer (supabase/schemas/27_unchanged.sql);
 * `change_evidence` says what a full scan saw ({ fingerprint, spec_hash,
 * scanned_at, tables, functions }) or why the check always scans ({ doubt }).
 */
export const scopeDetails = {
  scope: z.enum(['full', 'incremental', 'sample', 'unchanged']).optional(),
  change_evidence: z
    .object({
      fingerprint: z.string().optional(),
      spec_hash: z.string().optional(),
      scanned_at: z.string().optional(),
      /** What the scan read: its relations and the functions its expressions call. */
      tables: z.array(z.string()).optional(),
      functions: z.array(z.string()).optional(),
      doubt: z.string().optional(),
    })
    .optional(),
  since: z.unknown().optional(),
  watermark: z.unknown().optional(),
  full_at: z.string().nullable().optional(),
  spec_hash: z.string().optional(),
}
