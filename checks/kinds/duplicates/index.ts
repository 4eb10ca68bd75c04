/**
 * `duplicates`: rows beyond `maxPerKey` (default 1) per key. NULLs group
 * together, as GROUP BY does; a unique index would let them through, and
 * that difference is one of the incidents.
 *
 * Value: extra rows, the sum over keys of (rows − maxPerKey) where positive.
 * Details: `rows`, `keys`, `groups` (keys over the limit), `extra_rows`,
 * `largest_group`, `max_per_key`, `unique_index` (does a unique index cover
 * exactly these columns). Sample: the 5 largest groups `{ <key>..., rows,
 * ids? }`. Incremental runs count each changed key's whole group.
 * SQL: supabase/schemas/30_kind_duplicates.sql.
 *
 * @example
 * ```json
 * { "name": "breezeway_task_comments_duplicates", "kind": "duplicates",
 *   "table": "breezeway.task_comments", "columns": ["task_pk", "comment_id"] }
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
import { defineKind, n } from '../../kind.ts'

export const duplicates = defineKind({
  kind: 'duplicates',
  schema: z.strictObject({
    ...commonFields,
    kind: z.literal('duplicates'),
    table,
    columns: z.array(expression).min(1, 'must list at least one column or expression'),
    where: predicate.nullish(),
    maxPerKey: z.number().int().min(1).optional(),
    id: expression.optional(),
    incremental: IncrementalSchema.optional(),
  }),
  details: z.looseObject({
    rows: z.number(),
    keys: z.number(),
    groups: z.number(),
    extra_rows: z.number(),
    largest_group: z.number(),
    max_per_key: z.number(),
    unique_index: z.boolean(),
    changed_rows: z.number().optional(),
    ...scopeDetails,
  }),
  ratio: false,
  figure: (d) =>
    `${n(d.groups)} keys over the limit, ${n(d.extra_rows)} extra of ${n(d.rows)} rows, largest ${n(d.largest_group)}; unique index: ${d.unique_index ? 'yes' : 'no'}`,
})
