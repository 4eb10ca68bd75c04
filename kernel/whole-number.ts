/**
 * A whole number written as text (a CLI option, a Worker var): digits only
 * (no "1e3", "0x10", "1.5" or "+5"), within bounds. One reading, one message,
 * wherever a setting is a count.
 *
 * @example
 * ```ts
 * wholeNumberProblem('--limit', '1e2', { min: 1, max: 1000 }) // '--limit must be a whole number from 1 to 1000, got "1e2"'
 * wholeNumberProblem('--limit', '20', { min: 1, max: 1000 })  // undefined
 * ```
 */
import { z } from 'zod'

export type WholeNumberBounds = { min: number; max: number }

/** Why `text` is not a whole number within `bounds` (naming `name`), or undefined when it is. */
export function wholeNumberProblem(
  name: string,
  text: string,
  bounds: WholeNumberBounds,
): string | undefined {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN
  if (n >= bounds.min && n <= bounds.max) return undefined
  return `${name} must be a whole number from ${bounds.min} to ${bounds.max}, got "${text.slice(0, 40)}"`
}

/**
 * A Worker var holding a whole number within `bounds`: `fallback` when unset or
 * blank, else the number, or an issue naming `name`.
 */
export function wholeNumberVar(name: string, bounds: WholeNumberBounds, fallback: number) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback
      const problem = wholeNumberProblem(name, value.trim(), bounds)
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem })
        return z.NEVER
      }
      return Number(value)
    })
}
