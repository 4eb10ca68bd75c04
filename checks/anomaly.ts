/**
 * A measurement's status: the kind's own verdict (volume; freshness of an
 * empty table), else its threshold's (result.ts `measuredStatus`); and with the `anomaly` option, the worse of that and the
 * anomaly test of its figure against the check's own history, which the
 * database computes (dq.anomaly, one query over dq.results: the history never
 * leaves it). The test is recorded in `details.anomaly`, so that a result that
 * was itself anomalous is left out of later training, and says which fired.
 *
 * @example
 * ```ts
 * const { status, details } = await judge(port, check, measurement)
 * details.anomaly // { fired: 'anomaly', anomalous: true, expected: [140, 160], mean: 150, z: 4.2, training: 96, ... }
 * ```
 */
import type { DatabasePort } from '../kernel/port.ts'
import type { ResolvedCheck } from './catalog.ts'
import {
  type AnomalyDetails,
  AnomalyDetailsSchema,
  type Measurement,
  measuredStatus,
} from './result.ts'
import { type AnomalyTest, anomalyTest } from './store.ts'
import type { Verdict } from './threshold.ts'

const RANK: Record<Verdict, number> = { pass: 0, warn: 1, fail: 2 }

export async function judge(
  port: DatabasePort,
  check: ResolvedCheck,
  measurement: Measurement,
): Promise<{ status: Verdict; details: Measurement['details'] }> {
  const own = measuredStatus(check, measurement)
  if (!check.anomaly) return { status: own, details: measurement.details }

  const metric = check.anomaly.metric ?? 'value'
  const figure = metric === 'ratio' ? Number(measurement.details.ratio) : measurement.value
  const scope = measurement.details.scope
  // An unchanged answer repeats its full scan, whose own test stands: the same figure, compared
  // again, would count itself in its training.
  const carried = scope === 'unchanged' ? carriedAnomaly(measurement.details.anomaly) : undefined
  // A partial run (incremental, sampled) or no value at all is not compared with full runs.
  const test: AnomalyTest | undefined =
    carried ||
    scope === 'incremental' ||
    scope === 'sample' ||
    figure === null ||
    !Number.isFinite(figure)
      ? undefined
      : await anomalyTest(port, check.name, check.anomaly, figure, {
          timeoutSeconds: check.timeoutSeconds,
        })
  const anomalous = carried?.anomalous ?? test?.anomalous ?? false
  const thresholdFired = own !== 'pass'
  const anomaly: AnomalyDetails = {
    fired:
      anomalous && thresholdFired
        ? 'both'
        : anomalous
          ? 'anomaly'
          : thresholdFired
            ? 'threshold'
            : null,
    metric,
    figure,
    ...(carried ?? {
      anomalous,
      expected:
        test && !test.reason && test.low !== null && test.high !== null
          ? [test.low, test.high]
          : null,
      mean: test?.mean ?? null,
      stddev: test?.stddev ?? null,
      z: test?.z ?? null,
      training: test?.training ?? 0,
      recent: test?.recent ?? [],
      reason: test ? test.reason : 'partial_scope',
    }),
  }
  const byAnomaly: Verdict = anomalous ? 'fail' : 'pass'
  return {
    status: RANK[byAnomaly] > RANK[own] ? byAnomaly : own,
    details: { ...measurement.details, anomaly },
  }
}

/** What an anomaly test found, apart from the figure it judged and which test fired. */
type TestFindings = Pick<
  AnomalyDetails,
  'anomalous' | 'expected' | 'mean' | 'stddev' | 'z' | 'training' | 'recent' | 'reason'
>

/** The full scan's anomaly test, as an unchanged answer carries it in its details. */
function carriedAnomaly(details: unknown): TestFindings | undefined {
  const parsed = AnomalyDetailsSchema.safeParse(details)
  if (!parsed.success) return undefined
  const { anomalous, expected, mean, stddev, z, training, recent, reason } = parsed.data
  return { anomalous, expected, mean, stddev, z, training, recent, reason }
}
