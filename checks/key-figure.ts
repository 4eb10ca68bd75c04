/**
 * The one line that says what a result means, per kind: what the CLI table and
 * alerts show next to the value.
 *
 * @example
 * ```ts
 * keyFigure(result) // "8000 mismatched, 0 missing, 346 unexpected of 10000 rows (83.5%)"
 * ```
 */
import type { CheckResult } from './result.ts'

type Details = Record<string, unknown>

const n = (value: unknown): string =>
  typeof value === 'number' ? value.toLocaleString('en-US') : String(value ?? '?')

const pct = (ratio: unknown): string =>
  typeof ratio === 'number' ? `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 3 : 1)}%` : '?'

const FIGURES: Record<CheckResult['kind'], (d: Details) => string> = {
  stale_keys: (d) =>
    `${n(d.mismatched)} mismatched, ${n(d.missing)} missing, ${n(d.unexpected)} unexpected of ${n(d.rows)} rows (${pct(d.ratio)})`,
  duplicates: (d) =>
    `${n(d.groups)} keys over the limit, ${n(d.extra_rows)} extra of ${n(d.rows)} rows, largest ${n(d.largest_group)}; unique index: ${d.unique_index ? 'yes' : 'no'}`,
  trigger: (d) => {
    const tables = (Array.isArray(d.tables) ? d.tables : []) as { table: string; problem: string }[]
    if (tables.length === 0) return `${n(d.tables_checked)} table(s) covered`
    const shown = tables.slice(0, 3).map((t) => `${t.table} ${t.problem}`)
    const more = tables.length > 3 ? `, +${tables.length - 3} more` : ''
    return `${shown.join(', ')}${more} (of ${n(d.tables_checked)})`
  },
  coverage_gap: (d) =>
    `${n(d.missing)} of ${n(d.source_rows)} source rows missing (${pct(d.ratio)})`,
  raw_vs_enriched: (d) =>
    `${n(d.lost_rows)} lost rows (${n(d.lost_keys)} keys) of ${n(d.raw_rows)} raw; ${n(d.collapsed)} collapsed, ${n(d.matched_keys)} keys matched`,
}

export function keyFigure(
  result: Pick<CheckResult, 'kind' | 'status' | 'details' | 'error'>,
): string {
  if (result.status === 'error') return result.error ?? 'could not run'
  return FIGURES[result.kind](result.details)
}
