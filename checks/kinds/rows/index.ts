/**
 * `rows`: no row may match a predicate. `where` is the violation (rows
 * matching it are bad), `scope` narrows the rows considered. The general
 * form of dbt-utils `expression_is_true` (where = `not (expression)`),
 * `accepted_range`, `not_accepted_values`, GX's map expectations and Soda's
 * failed-rows checks. A row for which `where` is NULL does not match, as in
 * WHERE.
 *
 * Value: `matching`, the rows in scope matching `where`. Details: `rows` (in
 * scope), `matching`, `ratio`. Sample: up to 5 `{ <id> }`. Incremental runs
 * by a timestamp column. SQL: supabase/schemas/30_kind_rows.sql.
 *
 * @example
 * ```json
 * { "name": "enrichment_runs_stuck", "kind": "rows", "table": "reference.enrichment_runs",
 *   "where": "status = 'running' and started_at < now() - interval '6 hours'" }
 * ```
 */
import { z } from 'zod'
import {
  commonFields,
  expression,
  IncrementalSchema,
  predicate,
  scopeDetails,
  table,
} from '../../fields.ts'
import { defineKind, n, pct } from '../../kind.ts'

export const rows = defineKind({
  kind: 'rows',
  schema: z.strictObject({
    ...commonFields,
    kind: z.literal('rows'),
    table,
    /** The violation: rows matching it are bad. */
    where: predicate,
    /** The rows considered (all when left out). */
    scope: predicate.nullish(),
    id: expression.optional(),
    incremental: IncrementalSchema.optional(),
  }),
  details: z.looseObject({
    rows: z.number(),
    matching: z.number(),
    ratio: z.number(),
    ...scopeDetails,
  }),
  ratio: true,
  figure: (d) => `${n(d.matching)} of ${n(d.rows)} rows match (${pct(d.ratio)})`,
})
