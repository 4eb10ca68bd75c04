/**
 * Durations, one syntax for every one in a catalog (`repeatInterval`,
 * `fullEvery`, `incremental.fullEvery`, `incremental.lookback`, `window`, `grace`):
 * one or more "<number> <unit>" terms, units from seconds to weeks, decimals
 * allowed. Months and years are refused: their length varies. PostgreSQL reads
 * every one of these spellings as the same interval, so the text the user wrote
 * goes to the database as it is.
 *
 * @example
 * ```ts
 * durationMs('24 hours') // 86_400_000
 * durationMs('1 hour 30 minutes') // 5_400_000
 * durationMs('1.5h') // 5_400_000
 * DurationSchema.parse('2 days') // '2 days'
 * ```
 */
import { z } from 'zod'

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const

const UNIT = 'seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w'
const TERM = new RegExp(`(\\d+(?:\\.\\d+)?)\\s*(${UNIT})(?![a-z])`, 'gi')
const WHOLE = new RegExp(`^\\s*(?:\\d+(?:\\.\\d+)?\\s*(?:${UNIT})(?![a-z])\\s*)+$`, 'i')

function unitMs(word: string): number {
  const w = word.toLowerCase()
  if (w.startsWith('s')) return UNIT_MS.s
  if (w === 'm' || w.startsWith('mi')) return UNIT_MS.m
  if (w.startsWith('h')) return UNIT_MS.h
  if (w.startsWith('d')) return UNIT_MS.d
  return UNIT_MS.w
}

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function durationMs(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined
  let total = 0
  for (const match of text.trim().matchAll(TERM)) {
    total += Number(match[1]) * unitMs(match[2] ?? '')
  }
  return total
}

const MESSAGE =
  'must be a duration such as "24 hours", "30 minutes", "1 hour 30 minutes" or "7 days" (units: seconds, minutes, hours, days, weeks)'

const duration = ({ positive }: { positive: boolean }) =>
  z
    .string({ error: MESSAGE })
    .trim()
    .superRefine((text, ctx) => {
      const ms = durationMs(text)
      if (ms === undefined) ctx.addIssue({ code: 'custom', message: MESSAGE })
      else if (positive && ms <= 0)
        ctx.addIssue({ code: 'custom', message: 'must be longer than zero' })
    })

/** A catalog duration, zero allowed (a grace of "0 minutes"): kept as the text the user wrote. */
export const DurationSchema = duration({ positive: false })

/** A duration that must be above zero (a repeat interval, how often to run in full). */
export const PositiveDurationSchema = duration({ positive: true })

/** "1 day 2 hours", "3 hours 5 minutes", "45 minutes": how long an incident has lasted. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000))
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  const mins = minutes % 60
  const part = (n: number, unit: string) => (n > 0 ? `${n} ${unit}${n === 1 ? '' : 's'}` : '')
  const text = [part(days, 'day'), part(hours, 'hour'), days > 0 ? '' : part(mins, 'minute')]
    .filter(Boolean)
    .join(' ')
  return text || 'under a minute'
}
