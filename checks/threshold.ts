/**
 * Turns a measurement into a status: `fail` when the compared figure is above
 * `fail`, else `warn` when above `warn`, else `pass`. `metric: "ratio"`
 * compares `details.ratio` (0..1) instead of the value.
 *
 * @example
 * ```ts
 * evaluateThreshold({ warn: 0, fail: 100, metric: 'count' }, { value: 8346, details: {} }) // 'fail'
 * ```
 */
import type { Threshold } from './catalog.ts'
import type { Measurement, Status } from './result.ts'

export function evaluateThreshold(
  threshold: Threshold,
  measurement: Pick<Measurement, 'value' | 'details'>,
): Exclude<Status, 'error'> {
  const figure = comparedFigure(threshold, measurement)
  if (threshold.fail !== undefined && figure > threshold.fail) return 'fail'
  if (threshold.warn !== undefined && figure > threshold.warn) return 'warn'
  return 'pass'
}

/** The number the threshold compares: the value, or details.ratio. */
export function comparedFigure(
  threshold: Threshold,
  measurement: Pick<Measurement, 'value' | 'details'>,
): number {
  if (threshold.metric === 'count') return measurement.value
  const ratio = Number(measurement.details.ratio)
  if (!Number.isFinite(ratio)) {
    throw new Error(
      'threshold metric "ratio" needs details.ratio, which this check kind does not report',
    )
  }
  return ratio
}
