/**
 * `required_fields`: rows missing at least one field a consumer requires (an
 * API that hides a record when any of them is missing). A field is missing
 * when it is NULL or, with `blank` (default true), when it is text that is
 * empty after trim; other types are missing only when NULL.
 *
 * Value: `missing_any`, the rows missing one field or more. Details: `rows`,
 * `missing_any`, `ratio`, `fields` ({ field, as the catalog spells it: rows
 * missing it }), `blank`. Sample: up to 5 rows `{ <id>, missing: [fields] }`.
 * One pass over the table; incremental runs by a timestamp column.
 * SQL: supabase/schemas/30_kind_required_fields.sql.
 *
 * @example
 * ```json
 * { "name": "lead_profiles_required_fields", "kind": "required_fields",
 *   "table": "core.lead_profiles", "fields": ["company_name", "company_country"] }
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

/** How many fields the one line names, the most often missing first. */
const FIELDS_SHOWN = 5

export const requiredFields = defineKind({
  kind: 'required_fields',
  schema: z
    .strictObject({
      ...commonFields,
      kind: z.literal('required_fields'),
      table,
      fields: z.array(expression).min(1, 'must list at least one column or expression'),
      blank: z.boolean({ error: 'must be true or false' }).optional(),
      where: predicate.nullish(),
      id: expression.optional(),
      incremental: IncrementalSchema.optional(),
    })
    .superRefine((check, ctx) => {
      check.fields.forEach((field, index) => {
        const first = check.fields.indexOf(field)
        if (first < index) {
          ctx.addIssue({
            code: 'custom',
            path: ['fields', index],
            message: `is already fields[${first}]: list each field once`,
          })
        }
      })
    }),
  details: z.looseObject({
    rows: z.number(),
    missing_any: z.number(),
    ratio: z.number(),
    fields: z.record(z.string(), z.number()),
    blank: z.boolean().optional(),
    ...scopeDetails,
  }),
  ratio: true,
  figure: (d) => {
    const worst = Object.entries(d.fields)
      .filter(([, missing]) => missing > 0)
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    const shown = worst.slice(0, FIELDS_SHOWN).map(([field, missing]) => `${field} ${n(missing)}`)
    const more = worst.length > FIELDS_SHOWN ? `, +${worst.length - FIELDS_SHOWN} more` : ''
    const which = shown.length > 0 ? `: ${shown.join(', ')}${more}` : ''
    return `${n(d.missing_any)} of ${n(d.rows)} rows miss a required field (${pct(d.ratio)})${which}`
  },
})
