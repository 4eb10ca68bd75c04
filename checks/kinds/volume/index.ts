/**
 * `volume`: rows per rolling time bucket (an hour or a day, ending at now() −
 * grace) from the table's own time column; the latest bucket is tested
 * against the training buckets before it (empty ones count as zero) by
 * z-score: it fails outside mean ± sensitivity × stddev (sample) in
 * `direction`. With `seasonality: "day_of_week"` only the same weekday (day
 * buckets) or the same hour of the week (hour buckets) is compared. A
 * training bucket that is itself anomalous against the others is left out.
 * Fewer non-empty training buckets than `minTraining` (default 7) pass with
 * `reason: "insufficient_training"`: a new table never alarms.
 *
 * The status comes from that test, never from a threshold (the catalog
 * refuses one), and results report `threshold: null`.
 *
 * Value: rows in the latest bucket. Details: `bucket`, `bucket_start`,
 * `bucket_end`, `count`, `mean`, `stddev`, `z`, `low`, `high`,
 * `training_buckets`, `left_out`, `anomalous`, `recent` (the last 7 buckets,
 * oldest first), `reason`. SQL: supabase/schemas/30_kind_volume.sql, the test
 * itself in 26_anomaly.sql.
 *
 * @example
 * ```json
 * { "name": "enriched_jobs_volume", "kind": "volume",
 *   "table": "jobs.enriched_jobs", "time": "enriched_at", "bucket": "day", "grace": "1 hour" }
 * ```
 */
import { z } from 'zod'
import { DurationSchema } from '../../../kernel/duration.ts'
import { expectedText, zText } from '../../expected.ts'
import { anomalyTestFields, commonFields, expression, predicate, table } from '../../fields.ts'
import { defineKind, n } from '../../kind.ts'

const { threshold: _threshold, anomaly: _anomaly, ...common } = commonFields

/** Training buckets by default: 28 days or 168 hours; 8 weeks with seasonality. */
const SEASON = { hour: 168, day: 7 } as const

export const volume = defineKind({
  kind: 'volume',
  schema: z
    .strictObject({
      ...common,
      threshold: z
        .never({
          error:
            'volume checks take their status from the anomaly test, not a threshold: remove "threshold" (tune "sensitivity" and "direction" instead)',
        })
        .optional(),
      anomaly: z
        .never({
          error:
            'volume checks are an anomaly test already: set "sensitivity", "direction", "seasonality" and "minTraining" on the check itself',
        })
        .optional(),
      kind: z.literal('volume'),
      table,
      /** When each row arrived: a timestamp or date column (an index on it is used). */
      time: expression,
      bucket: z.enum(['hour', 'day'], { error: 'must be "hour" or "day"' }),
      grace: DurationSchema.optional(),
      /** Training buckets before the latest one. */
      training: z.number().int().positive().max(10_000).optional(),
      ...anomalyTestFields,
      where: predicate.nullish(),
    })
    .superRefine((check, ctx) => {
      if (check.seasonality !== 'day_of_week' || check.training === undefined) return
      const period = SEASON[check.bucket]
      const minTraining = check.minTraining ?? 7
      if (Math.floor(check.training / period) < minTraining) {
        ctx.addIssue({
          code: 'custom',
          path: ['training'],
          message: `with seasonality "day_of_week" only every ${period}th bucket is compared: ${check.training} buckets give ${Math.floor(check.training / period)}, fewer than minTraining (${minTraining}); give at least ${period * minTraining}`,
        })
      }
    }),
  details: z.looseObject({
    bucket: z.enum(['hour', 'day']),
    bucket_start: z.string(),
    bucket_end: z.string(),
    count: z.number(),
    mean: z.number().nullable(),
    stddev: z.number().nullable(),
    z: z.number().nullable(),
    low: z.number().nullable(),
    high: z.number().nullable(),
    training_buckets: z.number(),
    left_out: z.number(),
    anomalous: z.boolean(),
    recent: z.array(z.number()),
    min_training: z.number(),
    seasonality: z.string(),
    reason: z.string().nullable(),
  }),
  ratio: false,
  figure: (d) => {
    if (d.reason === 'insufficient_training') {
      return `${n(d.count)} rows in the last ${d.bucket}; not tested: fewer than ${d.min_training} non-empty training ${d.bucket}s`
    }
    const seasonal = d.seasonality === 'day_of_week' ? ', same weekday' : ''
    const verdict = d.anomalous ? `: a ${d.low !== null && d.count < d.low ? 'drop' : 'spike'}` : ''
    return `${expectedText({ figure: d.count, low: d.low, high: d.high, recent: d.recent })}; z ${zText(d.z)} against ${n(d.training_buckets)} ${d.bucket}s${seasonal}${verdict}`
  },
  verdict: ({ details }) => (details.anomalous ? 'fail' : 'pass'),
  ownStatus: true,
})
