/**
 * `stale_keys`: a stored derived key against its canonical formula,
 * recomputed now over every row. The incident: a "fill the NULLs" backfill
 * never looked at keys already set, dedup ran on stale keys, and a unique
 * index made `total_rows = unique_keys` look like success.
 *
 * Value: rows whose stored key is distinct from the formula. Details: `rows`,
 * `mismatched` (both set, differ), `missing` (stored NULL, formula not),
 * `unexpected` (stored set, formula NULL), `ratio`. Sample: `{ id, stored,
 * expected }`. Incremental runs by a timestamp column, or an estimate from
 * `sample: { percent }` (TABLESAMPLE SYSTEM) with a 95 % bound.
 * SQL: supabase/schemas/30_kind_stale_keys.sql.
 *
 * @example
 * ```json
 * { "name": "pwh_experience_key_stale", "kind": "stale_keys", "table": "core.person_work_history",
 *   "key": "experience_key", "formula": "md5(linkedin_url || '::' || company_domain)" }
 * ```
 */
import { z } from 'zod'
import {
  commonFields,
  expression,
  IncrementalSchema,
  notAnObject,
  predicate,
  scopeDetails,
  table,
} from '../../fields.ts'
import { defineKind, n, pct } from '../../kind.ts'

/** An estimate from `percent` % of the table's pages (TABLESAMPLE SYSTEM). */
const SampleSchema = z.strictObject(
  {
    percent: z
      .number({ error: 'must be a number (percent of the table to read)' })
      .gt(0, 'must be above 0')
      .max(100, 'must be at most 100'),
  },
  notAnObject('must be an object { percent }'),
)

export const staleKeys = defineKind({
  kind: 'stale_keys',
  schema: z
    .strictObject({
      ...commonFields,
      kind: z.literal('stale_keys'),
      table,
      key: expression,
      formula: expression,
      id: expression.optional(),
      where: predicate.nullish(),
      incremental: IncrementalSchema.optional(),
      sample: SampleSchema.optional(),
    })
    .superRefine((check, ctx) => {
      if (check.incremental !== undefined && check.sample !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sample'],
          message:
            'give either "sample" (an estimate over the whole table) or "incremental" (changed rows, exactly), not both',
        })
      }
    }),
  details: z.looseObject({
    rows: z.number(),
    mismatched: z.number(),
    missing: z.number(),
    unexpected: z.number(),
    ratio: z.number(),
    ...scopeDetails,
    sample_percent: z.number().optional(),
    ratio_error: z.number().nullable().optional(),
  }),
  ratio: true,
  figure: (d) =>
    `${n(d.mismatched)} mismatched, ${n(d.missing)} missing, ${n(d.unexpected)} unexpected of ${n(d.rows)} rows (${pct(d.ratio)})`,
})
