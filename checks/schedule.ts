/**
 * Which checks are due at a cron tick. The Worker's cron trigger fires on the
 * catalog's finest schedule (hourly by default); each check runs only at the
 * ticks its own `schedule` matches. Cron parsing is cron-parser's, in UTC.
 *
 * @example
 * ```ts
 * dueChecks(catalog.checks, new Date('2026-11-23T06:00:00Z')) // hourly and 6-hourly checks
 * ```
 */
import { CronExpressionParser } from 'cron-parser'
import type { ResolvedCheck } from './catalog.ts'

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

/** Does `expression` fire in the minute of `at` (UTC)? */
export function isDue(expression: string, at: Date): boolean {
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000)
  return CronExpressionParser.parse(expression, { tz: 'UTC' }).includesDate(minute)
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
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000)
  if (cronError(cron) !== undefined) return minute
  const expression = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: minute })
  if (expression.includesDate(minute)) return minute
  return expression.prev().toDate()
}

/** The enabled checks whose schedule fires at `at`. */
export function dueChecks(checks: readonly ResolvedCheck[], at: Date): ResolvedCheck[] {
  return checks.filter((check) => check.enabled && isDue(check.schedule, at))
}
