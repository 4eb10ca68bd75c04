/**
 * What a check kind is, in one place: its catalog schema, the details it
 * reports (typed), whether it reports a ratio, and the one line a person
 * reads next to its value. Its SQL is `dq.kind_<kind>(spec)` in
 * supabase/schemas/30_kind_<kind>.sql; checks/kinds/index.ts lists the kinds.
 *
 * @example
 * ```ts
 * export const rows = defineKind({
 *   kind: 'rows',
 *   schema: z.strictObject({ ...commonFields, kind: z.literal('rows'), table, where: predicate }),
 *   details: z.looseObject({ rows: z.number(), matching: z.number(), ratio: z.number() }),
 *   ratio: true,
 *   figure: (d) => `${n(d.matching)} of ${n(d.rows)} rows match`,
 * })
 * ```
 */
import type { z } from 'zod'
import type { Verdict } from './threshold.ts'

export type KindDefinition<
  Kind extends string = string,
  Schema extends z.ZodType<{ kind: Kind; name: string }> = z.ZodType<{ kind: Kind; name: string }>,
  Details extends z.ZodType<Record<string, unknown>> = z.ZodType<Record<string, unknown>>,
> = {
  kind: Kind
  /** The catalog entry: checks/fields.ts commonFields plus this kind's, `kind` a literal. */
  schema: Schema
  /** What the kind reports in result.details (loose: a kind may add fields). */
  details: Details
  /** details.ratio (0..1) is reported, so `metric: "ratio"` may be used. */
  ratio: boolean
  /**
   * The one line that says what a result means (CLI table, Slack, status page).
   * `sample` is the result's (absent for a result that has none to give).
   */
  figure(details: z.infer<Details>, sample?: readonly unknown[]): string
  /**
   * The status the kind decides itself, whatever the threshold; undefined
   * leaves it to the threshold. A kind whose SQL may measure no value (value
   * null, e.g. freshness of an empty table) must decide that case here.
   */
  verdict?(measurement: { value: number | null; details: z.infer<Details> }): Verdict | undefined
  /**
   * The kind decides every status itself (volume: the anomaly test in its
   * SQL), so it takes no `threshold`, and its results report `threshold: null`.
   * Its `verdict` then always answers.
   */
  ownStatus?: true
}

export function defineKind<
  Kind extends string,
  Schema extends z.ZodType<{ kind: Kind; name: string }>,
  Details extends z.ZodType<Record<string, unknown>>,
>(definition: KindDefinition<Kind, Schema, Details>): KindDefinition<Kind, Schema, Details> {
  return definition
}

/** 8,346 */
export const n = (value: unknown): string =>
  typeof value === 'number' ? value.toLocaleString('en-US') : String(value ?? '?')

/** 83.5% (three decimals below 0.1%) */
export const pct = (ratio: unknown): string =>
  typeof ratio === 'number' ? `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 3 : 1)}%` : '?'
