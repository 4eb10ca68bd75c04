/**
 * `raw_vs_enriched`: raw rows whose key never produced an enriched row, kept
 * apart from the expected collapse of several raw rows into one enriched row
 * per key. With `raw.time`, only rows in [now() − window, now() − grace)
 * count: younger rows may still be in flight.
 *
 * Value: `lost_rows` (every raw row of a key with no enriched row, plus rows
 * with a NULL key). Details: `raw_rows`, `distinct_keys`, `null_key_rows`,
 * `collapsed` (raw_rows − distinct_keys − null_key_rows), `matched_keys`,
 * `lost_keys`, `lost_rows`, `ratio`. Sample: lost keys, most rows first.
 * SQL: supabase/schemas/30_kind_raw_vs_enriched.sql.
 *
 * @example
 * ```json
 * { "name": "jobs_raw_vs_enriched", "kind": "raw_vs_enriched",
 *   "raw": { "table": "jobs.raw_jobs", "key": "job_hash", "time": "scraped_at" },
 *   "enriched": { "table": "jobs.enriched_jobs", "key": "job_hash" },
 *   "window": "24 hours", "grace": "1 hour" }
 * ```
 */
import { z } from 'zod'
import { DurationSchema } from '../../../kernel/duration.ts'
import { commonFields, expression, notAnObject, predicate, side, table } from '../../fields.ts'
import { defineKind, n } from '../../kind.ts'

export const rawVsEnriched = defineKind({
  kind: 'raw_vs_enriched',
  schema: z
    .strictObject({
      ...commonFields,
      kind: z.literal('raw_vs_enriched'),
      raw: z.strictObject(
        { table, key: expression, time: expression.optional(), where: predicate.nullish() },
        notAnObject('must be an object { table, key, time?, where? }'),
      ),
      enriched: side('the rows the raw rows should produce'),
      window: DurationSchema.optional(),
      grace: DurationSchema.optional(),
    })
    .superRefine((check, ctx) => {
      if (check.raw.time === undefined) {
        for (const field of ['window', 'grace'] as const) {
          if (check[field] !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [field],
              message: 'needs "raw.time", the column that says when a raw row arrived',
            })
          }
        }
      }
    }),
  details: z.looseObject({
    raw_rows: z.number(),
    distinct_keys: z.number(),
    null_key_rows: z.number(),
    collapsed: z.number(),
    matched_keys: z.number(),
    lost_keys: z.number(),
    lost_rows: z.number(),
    ratio: z.number(),
  }),
  ratio: true,
  figure: (d) =>
    `${n(d.lost_rows)} lost rows (${n(d.lost_keys)} keys) of ${n(d.raw_rows)} raw; ${n(d.collapsed)} collapsed, ${n(d.matched_keys)} keys matched`,
})
