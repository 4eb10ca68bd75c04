/**
 * Thresholds: `fail` when the compared figure is above `fail`, else `warn`
 * when above `warn`, else `pass`. `metric: "ratio"` compares `details.ratio`
 * (0..1) instead of the value. A threshold names `warn`, `fail` or both, and
 * `warn` is at most `fail`: a threshold that can never fire is refused.
 *
 * @example
 * ```ts
 * evaluateThreshold({ warn: 0, fail: 100, metric: 'count' }, { value: 8346, details: {} }) // 'fail'
 * ```
 */
import { z } from 'zod'

export const ThresholdSchema = z
  .strictObject({
    warn: z.number().nonnegative().optional(),
    fail: z.number().nonnegative().optional(),
    metric: z.enum(['count', 'ratio']).default('count'),
  })
  .superRefine((threshold, ctx) => {
    if (threshold.warn === undefined && threshold.fail === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must give "warn", "fail" or both (a threshold without either never fires): e.g. { "warn": 0, "fail": 100 }',
      })
    } else if (
      threshold.warn !== undefined &&
      threshold.fail !== undefined &&
      threshold.warn > threshold.fail
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['warn'],
        message: `must be at most "fail" (${threshold.fail}): a check warns before it fails`,
      })
    }
  })
export type Threshold = z.infer<typeof ThresholdSchema>

/** Without a threshold a check fails as soon as its value is above 0. */
export const DEFAULT_THRESHOLD: Threshold = { fail: 0, metric: 'count' }

export type Verdict = 'pass' | 'warn' | 'fail'

type Measured = { value: number; details: { ratio?: unknown } }

export function evaluateThreshold(threshold: Threshold, measurement: Measured): Verdict {
  const figure = comparedFigure(threshold, measurement)
  if (threshold.fail !== undefined && figure > threshold.fail) return 'fail'
  if (threshold.warn !== undefined && figure > threshold.warn) return 'warn'
  return 'pass'
}

/** The number the threshold compares: the value, or details.ratio. */
function comparedFigure(threshold: Threshold, measurement: Measured): number {
  if (threshold.metric === 'count') return measurement.value
  const ratio = Number(measurement.details.ratio)
  if (!Number.isFinite(ratio)) {
    throw new Error(
      'threshold metric "ratio" needs details.ratio, which this check kind does not report',
    )
  }
  return ratio
}
