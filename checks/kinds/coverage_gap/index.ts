/**
 * `coverage_gap`: source rows with no target row where `target.key =
 * source.key` (rows that reached `extracted` but never `core`).
 *
 * Value: `missing`, counted in source rows, not distinct keys. A NULL source
 * key never matches, and neither does a key of several fields with a NULL in
 * any field (`row(a, b)`, `array[a, b]`, `array[row(a, b)]`): such rows count
 * as missing. Details: `source_rows`,
 * `missing`, `ratio`. Sample: up to 5 missing keys; when they are all the
 * missing rows (5 or fewer), the key figure names them. Incremental runs by the
 * source's timestamp column, each changed row looked up in the whole target.
 * SQL: supabase/schemas/30_kind_coverage_gap.sql.
 *
 * @example
 * ```json
 * { "name": "company_funding_gap", "kind": "coverage_gap",
 *   "source": { "table": "extracted.company_discovery", "key": "domain" },
 *   "target": { "table": "core.company_funding", "key": "domain" } }
 * ```
 */
import { z } from 'zod'
import { commonFields, IncrementalSchema, scopeDetails, side } from '../../fields.ts'
import { defineKind, n, pct } from '../../kind.ts'

export const coverageGap = defineKind({
  kind: 'coverage_gap',
  schema: z.strictObject({
    ...commonFields,
    kind: z.literal('coverage_gap'),
    source: side('the rows that must have a match'),
    target: side('where the match must be'),
    /** `column` is the source's: changed source rows are looked up in the whole target. */
    incremental: IncrementalSchema.optional(),
  }),
  details: z.looseObject({
    source_rows: z.number(),
    missing: z.number(),
    ratio: z.number(),
    ...scopeDetails,
  }),
  ratio: true,
  figure: (d, sample) => {
    const line = `${n(d.missing)} of ${n(d.source_rows)} source rows missing (${pct(d.ratio)})`
    const keys = everyMissingKey(d.missing, sample)
    return keys ? `${line}: ${keys}` : line
  },
})

/**
 * The missing keys, sorted, when the sample holds every one of them (at most
 * 5) and each is a single value: a short complete list says more than a count
 * ("5 of 13 …: extracted.company_discovery, …"). Undefined otherwise (a long
 * gap, or composite keys): the sample shows a few.
 */
function everyMissingKey(missing: number, sample: readonly unknown[] | undefined) {
  if (!sample || missing === 0 || sample.length !== missing) return undefined
  const keys: string[] = []
  for (const row of sample) {
    const values = row && typeof row === 'object' ? Object.values(row) : []
    const [value] = values
    if (values.length !== 1 || (value !== null && typeof value === 'object')) return undefined
    keys.push(value === null ? 'NULL' : String(value))
  }
  return keys.sort().join(', ')
}
