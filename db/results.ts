/**
 * Shapes coming back from the `dq.*` SQL functions, validated at the boundary
 * so a drifted schema fails loudly instead of producing wrong reports.
 *
 * @example
 * ```ts
 * const measurement = parseMeasurement(row.result)
 * ```
 */
import { z } from 'zod'
import { DqError } from '../checks/errors.ts'
import {
  type HistoryEntry,
  HistoryEntrySchema,
  type Measurement,
  MeasurementSchema,
} from '../checks/result.ts'

// numeric columns come back as JSON numbers from jsonb; be lenient with strings.
const HistoryRowSchema = HistoryEntrySchema.extend({
  value: z.coerce.number().nullable(),
  started_at: z.union([z.string(), z.date()]).transform((t) => new Date(t).toISOString()),
})

/** Validates what a dq.* function returned; a mismatch says to migrate. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    throw new DqError(
      'database',
      `unexpected ${what} from the database (is the dq migration up to date? run "dq migrate"): ${parsed.error.message}`,
    )
  }
  return parsed.data
}

export function parseMeasurement(value: unknown): Measurement {
  return parse(MeasurementSchema, value, 'check measurement')
}

export function parseHistory(value: unknown): HistoryEntry[] {
  return parse(z.array(HistoryRowSchema), value, 'history')
}

export function parseLatest(value: unknown): Record<string, HistoryEntry> {
  return parse(z.record(z.string(), HistoryRowSchema), value, 'latest results')
}
