/**
 * `freshness`, in two forms, one kind.
 *
 * Table form (`table`, `column`, `where?`): how old the newest row is. Value:
 * hours since the newest `column` (one decimal); thresholds are in hours, so
 * a threshold is required. Details: `newest`, `age_hours`. A table with no
 * row at all (under `where`) has no age: value null, `newest` null,
 * `reason: "no_rows"`, and the kind's verdict is `fail`, whatever the
 * threshold. With a B-tree index on the column the max() reads one entry.
 *
 * Pairwise form (`source: {table, key, time, where?}`, `target: {...}`,
 * `grace?`): source rows whose target row is older than they are
 * (`target.time < source.time`: the update never landed). Value: `behind`.
 * Details: `source_rows`, `behind`, `missing_target` (no target row:
 * reported, not counted; coverage_gap counts those), `ratio`,
 * `max_lag_seconds`. Source rows younger than `grace` are in flight and not
 * counted. Sample: `{ <key>, source_time, target_time, lag_seconds }`.
 *
 * SQL: supabase/schemas/30_kind_freshness.sql.
 *
 * @example
 * ```json
 * { "name": "linkedin_profile_freshness", "kind": "freshness",
 *   "table": "extracted.linkedin_profile", "column": "updated_at",
 *   "threshold": { "warn": 24, "fail": 48 } }
 * { "name": "companyenrich_updates_landed", "kind": "freshness",
 *   "source": { "table": "raw.companyenrich_payloads", "key": "domain", "time": "received_at" },
 *   "target": { "table": "extracted.companyenrich_company", "key": "domain", "time": "updated_at" },
 *   "grace": "15 minutes" }
 * ```
 */
import { z } from 'zod'
import { DurationSchema } from '../../../kernel/duration.ts'
import { commonFields, expression, notAnObject, predicate, table } from '../../fields.ts'
import { defineKind, n, pct } from '../../kind.ts'

/** One side of the pairwise form: `{ table, key, time, where? }`. */
const timedSide = (what: string) =>
  z.strictObject(
    { table, key: expression, time: expression, where: predicate.nullish() },
    notAnObject(`must be an object { table, key, time, where? } (${what})`),
  )

const FORMS =
  'give "table" and "column" (how old the newest row is), or "source" and "target" (source rows whose target row is older)'

const PairwiseDetailsSchema = z.looseObject({
  source_rows: z.number(),
  behind: z.number(),
  missing_target: z.number(),
  ratio: z.number(),
  max_lag_seconds: z.number().nullable(),
})
const TableDetailsSchema = z.looseObject({
  newest: z.unknown(),
  age_hours: z.number().nullable(),
  reason: z.literal('no_rows').optional(),
})

/** 430,200 s as "119.5 h"; under an hour in minutes, under a minute in seconds. */
function lag(seconds: number | null): string {
  if (seconds === null) return '?'
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`
  if (seconds >= 60) return `${(seconds / 60).toFixed(1)} min`
  return `${seconds} s`
}

export const freshness = defineKind({
  kind: 'freshness',
  schema: z
    .strictObject({
      ...commonFields,
      kind: z.literal('freshness'),
      table: table.optional(),
      column: expression.optional(),
      where: predicate.nullish(),
      source: timedSide('the rows that arrived').optional(),
      target: timedSide('where each must have landed since').optional(),
      grace: DurationSchema.optional(),
    })
    .superRefine((check, ctx) => {
      const issue = (path: PropertyKey[], message: string) =>
        ctx.addIssue({ code: 'custom', path, message })
      const tableForm = check.table !== undefined || check.column !== undefined
      const pairwise = check.source !== undefined || check.target !== undefined
      if (tableForm && pairwise) {
        issue(['source'], `${FORMS}, not both`)
      } else if (pairwise) {
        if (check.source === undefined) issue(['source'], 'is required with "target"')
        if (check.target === undefined) issue(['target'], 'is required with "source"')
        if (check.where != null) {
          issue(['where'], 'is for the table form: use "source.where" or "target.where"')
        }
      } else if (!tableForm) {
        issue(['table'], `is required: ${FORMS}`)
      } else {
        if (check.table === undefined) issue(['table'], 'is required with "column"')
        if (check.column === undefined) {
          issue(['column'], 'is required: the timestamptz, timestamp or date column of each row')
        }
        if (check.grace !== undefined)
          issue(['grace'], 'is for the pairwise form ("source", "target")')
        if (check.threshold === undefined) {
          issue(
            ['threshold'],
            'is required: the value is the hours since the newest row, e.g. { "warn": 24, "fail": 48 }',
          )
        } else if (check.threshold.metric === 'ratio') {
          issue(
            ['threshold', 'metric'],
            'must be "count": the table form reports hours, not a ratio',
          )
        }
      }
    }),
  details: z.union([PairwiseDetailsSchema, TableDetailsSchema]),
  ratio: true,
  figure: (d) => {
    const pair = PairwiseDetailsSchema.safeParse(d)
    if (pair.success) {
      const p = pair.data
      return `${n(p.behind)} of ${n(p.source_rows)} source rows behind their target row (${pct(p.ratio)}), max lag ${lag(p.max_lag_seconds)}; ${n(p.missing_target)} without a target row`
    }
    const { newest, age_hours: age } = TableDetailsSchema.parse(d)
    if (age === null) return 'no rows: nothing was ever written (newest is null)'
    const when = typeof newest === 'string' ? newest.replace(/\.\d+/, '') : String(newest)
    return `newest row ${age.toFixed(1)} h old (${when})`
  },
  verdict: ({ details }) => (details.reason === 'no_rows' ? 'fail' : undefined),
})
