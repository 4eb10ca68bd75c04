/**
 * Cron expressions (five fields, UTC), parsed by cron-parser: validation for
 * the catalog, and the ticks the scheduler and the heartbeat reason about.
 *
 * @example
 * ```ts
 * cronError('61 * * * *') // 'is not a valid cron expression: ...'
 * isDue('0 * * * *', new Date('2026-11-23T06:00:42Z')) // true
 * ```
 */
import { CronExpressionParser } from 'cron-parser'

/** The cron error message, or undefined when the expression is valid. */
export function cronError(expression: string): string | undefined {
  if (expression.trim().split(/\s+/).length !== 5) {
    return 'must be a five-field cron expression such as "0 * * * *" (minute hour day month weekday)'
  }
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' })
    return undefined
  } catch (error) {
    return `is not a valid cron expression: ${(error as Error).message}`
  }
}

function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000)
}

/** Does `expression` fire in the minute of `at` (UTC)? */
export function isDue(expression: string, at: Date): boolean {
  return CronExpressionParser.parse(expression, { tz: 'UTC' }).includesDate(minuteOf(at))
}

/**
 * The tick an event at `at` belongs to: the latest time at or before `at`
 * (to the minute) when the trigger's cron fires. A real cron event is
 * delivered with its scheduled minute, so this is `at` itself; a manual one
 * (`wrangler dev`'s /__scheduled fires "now") maps to the current tick, and
 * firing it again is the same tick, recorded once. An empty or invalid cron
 * (a hand-made event) keeps the minute of `at`.
 */
export function tickOf(cron: string, at: Date): Date {
  const minute = minuteOf(at)
  if (cronError(cron) !== undefined) return minute
  const expression = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: minute })
  if (expression.includesDate(minute)) return minute
  return expression.prev().toDate()
}

/** The next two ticks after `tick`: when the next run is due, and the one after it. */
export function nextTicks(cron: string, tick: Date): [Date, Date] {
  const ticks = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: tick })
  return [ticks.next().toDate(), ticks.next().toDate()]
}
