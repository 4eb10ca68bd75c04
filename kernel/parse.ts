/**
 * What comes back from the database is validated at the boundary, so a
 * drifted schema fails loudly instead of producing wrong reports or alerts.
 *
 * @example
 * ```ts
 * const measurement = parseReply(MeasurementSchema, await port.call('run_check', { spec }), 'check measurement')
 * ```
 */
import type { z } from 'zod'
import { DqError } from './errors.ts'

export function parseReply<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    throw new DqError(
      'database',
      `unexpected ${what} from the database (is the dq migration up to date? run "dq migrate"): ${parsed.error.message}`,
    )
  }
  return parsed.data
}

/** A timestamp as PostgreSQL's jsonb gives it, as ISO-8601 UTC. */
export const isoTimestamp = (value: string | Date): string => new Date(value).toISOString()
