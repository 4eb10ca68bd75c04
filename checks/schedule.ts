/**
 * Which checks are due at a cron tick. The Worker's cron trigger fires on the
 * catalog's finest schedule (hourly by default); each check runs only at the
 * ticks its own `schedule` matches.
 *
 * @example
 * ```ts
 * dueChecks(catalog.checks, new Date('2026-11-23T06:00:00Z')) // hourly and 6-hourly checks
 * ```
 */
import { isDue } from './cron.ts'

/** The enabled checks whose schedule fires at `at`. */
export function dueChecks<T extends { enabled: boolean; schedule: string }>(
  checks: readonly T[],
  at: Date,
): T[] {
  return checks.filter((check) => check.enabled && isDue(check.schedule, at))
}
