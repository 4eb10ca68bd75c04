/**
 * Durations written in the catalog, such as `"24 hours"`, `"30 minutes"` or
 * `"1.5h"`: the alert repeat interval. One number (decimals allowed) and one
 * unit from minutes to weeks; no months or years, whose length varies. Only
 * TypeScript reads it (alerts/policy): the database keeps the catalog text.
 *
 * @example
 * ```ts
 * durationMs('24 hours') // 86_400_000
 * durationMs('1.5h') // 5_400_000
 * DurationSchema.parse('2 days') // '2 days'
 * ```
 */
import { z } from 'zod'

const UNITS: Record<string, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
}

const PATTERN = /^(\d+(?:\.\d+)?)\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)$/i

function unitOf(word: string): number {
  const w = word.toLowerCase()
  if (w.startsWith('mi') || w === 'm') return UNITS.minute as number
  if (w.startsWith('h')) return UNITS.hour as number
  if (w.startsWith('d')) return UNITS.day as number
  return UNITS.week as number
}

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function durationMs(text: string): number | undefined {
  const match = PATTERN.exec(text.trim())
  if (!match?.[1] || !match[2]) return undefined
  const ms = Number(match[1]) * unitOf(match[2])
  return ms > 0 ? ms : undefined
}

/** A catalog duration: validated here, kept as the text the user wrote. */
export const DurationSchema = z
  .string()
  .trim()
  .refine(
    (text) => durationMs(text) !== undefined,
    'must be a duration such as "24 hours", "30 minutes", "7 days" or "1 week"',
  )

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
