/**
 * What the pages show, computed apart from the markup: the figure a threshold
 * compares, filters, ordering, a workflow's name, numbers and times as people
 * read them. Pure functions, tested on their own.
 *
 * @example
 * ```ts
 * const shown = applyFilters(catalog.checks, latest, { status: 'fail' })
 * relativeTime('2026-12-01T10:00:00Z', '2026-12-01T13:05:00Z') // "3 h ago"
 * ```
 */
import type { ResolvedCheck, Threshold } from '../checks/catalog.ts'
import type { HistoryEntry, Status } from '../checks/result.ts'

/** A check's status on the page: a result's, or "none" when it never ran. */
export type PageStatus = Status | 'none'
export const PAGE_STATUSES: readonly PageStatus[] = ['fail', 'error', 'warn', 'pass', 'none']

const RANK: Record<PageStatus, number> = { error: 4, fail: 3, warn: 2, pass: 1, none: 0 }

export const statusOf = (latest: HistoryEntry | undefined | null): PageStatus =>
  latest?.status ?? 'none'

/** The overview's filters, as its query string carries them (shareable links). */
export type Filters = { status?: PageStatus; tag?: string; owner?: string }

export function filtersOf(query: Record<string, string | undefined>): Filters {
  const filters: Filters = {}
  const status = query.status as PageStatus | undefined
  if (status && PAGE_STATUSES.includes(status)) filters.status = status
  if (query.tag) filters.tag = query.tag
  if (query.owner) filters.owner = query.owner
  return filters
}

/** The overview's URL with these filters (a filter set to undefined is dropped). */
export function filterHref(
  filters: Filters,
  change: Partial<Record<keyof Filters, string | undefined>>,
) {
  const merged: Record<string, string | undefined> = { ...filters, ...change }
  const query = new URLSearchParams()
  for (const key of ['status', 'tag', 'owner'] as const) {
    const value = merged[key]
    if (value) query.set(key, value)
  }
  const text = query.toString()
  return text ? `/?${text}` : '/'
}

/** Checks matching every filter given, worst status first, then by name. */
export function applyFilters(
  checks: readonly ResolvedCheck[],
  latest: Record<string, HistoryEntry>,
  filters: Filters,
): ResolvedCheck[] {
  return checks
    .filter(
      (check) =>
        (!filters.status || statusOf(latest[check.name]) === filters.status) &&
        (!filters.tag || check.tags.includes(filters.tag)) &&
        (!filters.owner || check.owner === filters.owner),
    )
    .sort(
      (a, b) =>
        RANK[statusOf(latest[b.name])] - RANK[statusOf(latest[a.name])] ||
        a.name.localeCompare(b.name),
    )
}

/** Every distinct value of a field over the catalog, sorted. */
export function distinct(values: Iterable<string | undefined>): string[] {
  return [...new Set([...values].filter((v): v is string => Boolean(v)))].sort()
}

/**
 * The workflow a coverage check watches: the registry row's `workflow_name`
 * for a check generated from the enrichment registry (`generated: { from, row }`
 * on its catalog entry), else the check's name. `generated` is read loosely:
 * it is newer than this catalog's types.
 */
export function workflowOf(check: Pick<ResolvedCheck, 'name' | 'generated'>): string {
  const name = check.generated?.row.workflow_name
  return typeof name === 'string' && name ? name : check.name
}

/** The number the threshold compares: the value, or details.ratio for metric "ratio". */
export function figureOf(
  threshold: Threshold,
  result: HistoryEntry | null | undefined,
): number | null {
  if (!result || result.status === 'error') return null
  if (threshold.metric === 'ratio') {
    const ratio = result.details.ratio
    return typeof ratio === 'number' ? ratio : null
  }
  return result.value
}

// One formatter for the whole page: toLocaleString with options builds a new one per call.
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })

/** 8,346 · 0.5% · 1.2 */
export function formatFigure(value: number | null | undefined, metric: 'count' | 'ratio'): string {
  if (value === null || value === undefined) return '–'
  if (metric === 'ratio') return `${(value * 100).toFixed(value > 0 && value < 0.001 ? 3 : 1)}%`
  return COUNT.format(value)
}

/**
 * The threshold a page draws and compares: none (null) is a check whose kind
 * decides its status (volume), or one held to its own history alone
 * (`anomaly`): nothing to draw, the value compared.
 */
export function shownThreshold(check: { threshold: Threshold | null }): Threshold {
  return check.threshold ?? { metric: 'count' }
}

/** "fail above 100, warn above 0" (ratios as percentages). */
export function thresholdText(threshold: Threshold | null): string {
  if (!threshold)
    return 'none: the kind decides the status, or the check is held to its own history'
  const parts: string[] = []
  if (threshold.fail !== undefined)
    parts.push(`fail above ${formatFigure(threshold.fail, threshold.metric)}`)
  if (threshold.warn !== undefined)
    parts.push(`warn above ${formatFigure(threshold.warn, threshold.metric)}`)
  return `${parts.join(', ')}${threshold.metric === 'ratio' ? ' (ratio)' : ''}`
}

/** "40 s", "12 min", "3 h", "5 days". */
function spanText(seconds: number): string {
  if (seconds < 45) return `${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.round(minutes / 60)
  if (hours < 48) return `${hours} h`
  return `${Math.round(hours / 24)} days`
}

/** "just now", "12 min ago", "3 h ago", "5 days ago" (from the database's clock). */
export function relativeTime(at: string, now: string): string {
  const seconds = Math.round((Date.parse(now) - Date.parse(at)) / 1000)
  if (seconds < 45) return seconds < -45 ? `in ${spanText(-seconds)}` : 'just now'
  return `${spanText(seconds)} ago`
}

/** 2026-12-01 13:05 UTC */
export const utcText = (at: string): string =>
  `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`

/** A path to come back to after signing in: this site's pages only, never another origin. */
export function safeNext(next: string | undefined): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/'
  try {
    const url = new URL(next, 'http://dq.invalid')
    return url.origin === 'http://dq.invalid' ? `${url.pathname}${url.search}` : '/'
  } catch {
    return '/'
  }
}
