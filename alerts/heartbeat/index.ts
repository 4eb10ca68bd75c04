/**
 * The monitor watches itself: each scheduled tick leaves a heartbeat, and the
 * next run (or `GET /health?deep=1`) calls the monitor stale once the second
 * tick after that beat has passed with no newer one: two runs in a row
 * missed. Measured in the cron's own ticks, because its gaps may differ: a
 * weekday cron beats on Friday and is next expected on Monday, and
 * `0 9,12 * * *` alternates 3 and 21 hours. SQL cannot read a cron, so the
 * deadline is computed here and stored (dq.monitor_heartbeat.stale_after).
 *
 * @example
 * ```ts
 * cronHeartbeat('0 9 * * 1-5', new Date('2026-11-20T09:00:00Z')) // Friday
 * // { beat_at: '2026-11-20T09:00:00.000Z', interval_seconds: 259200,   (Fri → Mon)
 * //   stale_after: '2026-11-24T09:00:00.000Z' }                        (Tuesday's tick)
 * ```
 */
import { CronExpressionParser } from 'cron-parser'
import { cronError, tickOf } from '../../checks/schedule.ts'

/** What a scheduled tick writes to dq.monitor_heartbeat. */
export type Heartbeat = {
  /** The tick (UTC, to the minute) the beat belongs to. */
  beat_at: string
  /** Seconds from this tick to the next: when the next run is expected. */
  interval_seconds: number
  /** The tick after the next: past it with no newer beat, the monitor is stale. */
  stale_after: string
}

/**
 * The heartbeat of the tick of `expression` that `at` belongs to (tickOf:
 * a late delivery keeps its tick); undefined for an empty or invalid
 * expression (a hand-made scheduled event), which leaves no heartbeat.
 */
export function cronHeartbeat(expression: string, at: Date): Heartbeat | undefined {
  if (cronError(expression) !== undefined) return undefined // tickOf would keep the minute of `at`
  try {
    const tick = tickOf(expression, at)
    const ticks = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: tick })
    const next = ticks.next().toDate()
    const afterNext = ticks.next().toDate()
    return {
      beat_at: tick.toISOString(),
      interval_seconds: Math.max(60, Math.round((next.getTime() - tick.getTime()) / 1000)),
      stale_after: afterNext.toISOString(),
    }
  } catch {
    return undefined // a cron with no future tick (cron-parser gives up searching)
  }
}
