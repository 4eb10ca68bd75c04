/**
 * `trigger`: every target table has a matching, enabled user trigger.
 * Targets are one `table`, or every table in `schemas` that has `column`.
 * Internal triggers (foreign keys) never count; a trigger fires in a normal
 * session when `tgenabled` is O or A, so D (disabled) and R (replica only)
 * are reported as `disabled`.
 *
 * Value: tables with a problem. Details: `tables_checked`, `tables` (only
 * those with a problem: `{ table, problem: missing | disabled, triggers }`).
 * Sample: `{ table, problem }`. Only `metric: "count"`.
 * SQL: supabase/schemas/30_kind_trigger.sql.
 *
 * @example
 * ```json
 * { "name": "updated_at_triggers", "kind": "trigger", "schemas": ["extracted", "core"],
 *   "column": "updated_at", "events": ["UPDATE"], "timing": "BEFORE" }
 * ```
 */
import { z } from 'zod'
import { commonFields, table } from '../../fields.ts'
import { defineKind, n } from '../../kind.ts'

const TRIGGER_EVENTS = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const

const upper = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(values))

const TriggerProblemSchema = z.object({
  table: z.string(),
  problem: z.enum(['missing', 'disabled']),
  triggers: z.array(z.unknown()).optional(),
})

export const trigger = defineKind({
  kind: 'trigger',
  schema: z
    .strictObject({
      ...commonFields,
      kind: z.literal('trigger'),
      table: table.optional(),
      trigger: z.string().trim().min(1).optional(),
      function: z.string().trim().min(1).optional(),
      events: z.array(upper(TRIGGER_EVENTS)).min(1).optional(),
      timing: upper(['BEFORE', 'AFTER', 'INSTEAD OF']).optional(),
      schemas: z.array(z.string().trim().min(1)).min(1).optional(),
      column: z.string().trim().min(1).optional(),
    })
    .superRefine((check, ctx) => {
      if (check.schemas === undefined && check.table === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['table'],
          message:
            'is required (or give "schemas" and "column" to check every table with that column)',
        })
      }
      if (check.schemas !== undefined && check.table !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['schemas'],
          message: 'give either "table" or "schemas", not both',
        })
      }
      if (check.schemas !== undefined && check.column === undefined) {
        ctx.addIssue({ code: 'custom', path: ['column'], message: 'is required with "schemas"' })
      }
    }),
  details: z.looseObject({
    tables_checked: z.number(),
    tables: z.array(TriggerProblemSchema),
  }),
  ratio: false,
  figure: (d) => {
    if (d.tables.length === 0) return `${n(d.tables_checked)} table(s) covered`
    const shown = d.tables.slice(0, 3).map((t) => `${t.table} ${t.problem}`)
    const more = d.tables.length > 3 ? `, +${d.tables.length - 3} more` : ''
    return `${shown.join(', ')}${more} (of ${n(d.tables_checked)})`
  },
})
