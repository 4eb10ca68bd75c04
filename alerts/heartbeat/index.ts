/**
 * The monitor watches itself: each scheduled run leaves a heartbeat with the
 * cron interval it expects, and the next run (or `GET /health?deep=1`) calls
 * the monitor stale when no run completed for twice that interval. The
 * interval is the gap between the tick that started this run and the one
 * before it (so a weekday-only cron expects Friday → Monday, not 24 hours).
 *
 * @example
 * ```ts
 * cronIntervalSeconds('0 * * * *', new Date('2026-11-23T03:00:00Z'))   // 3600
 * cronIntervalSeconds('0 9 * * 1-5', new Date('2026-11-23T09:00:00Z')) // 259200 (Fri → Mon)
 * ```
 */
import { CronExpressionParser } from 'cron-parser'
import { cronError } from '../../checks/schedule.ts'

/**
 * Seconds between the latest tick of `expression` at or before `at` and the
 * tick before it (UTC); undefined for an empty or invalid expression (a
 * hand-made scheduled event), which then leaves no heartbeat.
 */
export function cronIntervalSeconds(expression: string, at: Date): number | undefined {
  if (cronError(expression) !== undefined) return undefined // cron-parser reads "" as every minute
  try {
    const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000)
    const previousTick = (before: Date) =>
      CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: before }).prev().toDate()
    const parsed = CronExpressionParser.parse(expression, { tz: 'UTC' })
    const tick = parsed.includesDate(minute) ? minute : previousTick(minute)
    return Math.max(60, Math.round((tick.getTime() - previousTick(tick).getTime()) / 1000))
  } catch {
    return undefined
  }
}
