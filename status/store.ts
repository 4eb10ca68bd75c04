/**
 * What the status page asks of the database: one `dq.*` call per page
 * (supabase/schemas/50_status_page.sql), its reply validated here. The
 * catalog's generators go into that call, which expands them
 * (dq.expand_generator) and reads the generated checks' history too; its
 * `generated` answers become checks with `expandedWith`. History arrives
 * downsampled (at most one point per 6-hour bucket, fewer when a page asks
 * for fewer) and becomes `Series` for the charts.
 *
 * @example
 * ```ts
 * const data = await overviewData(port, ['pwh_experience_key_stale'], catalog.generators)
 * data.latest.pwh_experience_key_stale?.status // 'fail'
 * data.series.pwh_experience_key_stale          // { grid, points: [{ index, high, status }, ...] }
 * const { checks } = await expandedWith(catalog, data.generated) // the generated ones too
 * ```
 */
import { z } from 'zod'
import type { Catalog } from '../checks/catalog.ts'
import { EXPAND_TIMEOUT_SECONDS, expandCatalogWith } from '../checks/generate.ts'
import { type GeneratorEntry, generatorId } from '../checks/generator-entry.ts'
import type { HistoryEntry, Status } from '../checks/result.ts'
import { HistoryRowSchema } from '../checks/store.ts'
import { databaseError } from '../db/sql-error.ts'
import { DqError } from '../kernel/errors.ts'
import { isoTimestamp, parseReply } from '../kernel/parse.ts'
import type { CallOptions, DatabasePort } from '../kernel/port.ts'

/** The window every page shows. */
const WINDOW_DAYS = 30
/** Points per overview sparkline: 30 days in 12-hour points (61). */
const OVERVIEW_POINTS = 62
/** Points on a check's chart: every 6-hour bucket of 30 days (121). */
const CHART_POINTS = 200
/** Results listed on a check's page. */
const RECENT_RESULTS = 20

const STATUSES: Status[] = ['pass', 'warn', 'fail', 'error']

const timestamp = z.union([z.string(), z.date()]).transform(isoTimestamp)

const GridSchema = z.object({
  start: z.number(),
  step: z.number().positive(),
  points: z.number().int(),
})
export type Grid = z.infer<typeof GridSchema>

const number = z.number().nullable()
const SeriesColumnsSchema = z
  .object({
    i: z.array(z.number().int()),
    hi: z.array(number),
    s: z.array(z.number().int().min(0).max(3)),
    blo: z.array(number).optional(),
    bhi: z.array(number).optional(),
    lo: z.array(number).optional(),
    n: z.array(z.number()).optional(),
    t: z.array(z.number()).optional(),
  })
  .refine(
    (c) => c.hi.length === c.i.length && c.s.length === c.i.length,
    'columns differ in length',
  )

/** One point of a chart: a bucket of results. */
export type Point = {
  /** Its index on the grid (0 = the window's first bucket). */
  index: number
  /** The largest figure in it (what the threshold compares), null when none was measured. */
  high: number | null
  /** The smallest (check page only). */
  low?: number | null
  /** Its worst status. */
  status: Status
  /** The widest anomaly band reported in it, [low, high]. */
  band?: [number, number]
  /** How many results, and when the last one started (check page only). */
  results?: number
  lastAt?: string
}

export type Series = { grid: Grid; points: Point[] }

function seriesOf(grid: Grid, columns: z.infer<typeof SeriesColumnsSchema>): Series {
  const points = columns.i.map((index, k): Point => {
    const point: Point = {
      index,
      high: columns.hi[k] ?? null,
      status: STATUSES[columns.s[k] ?? 0] ?? 'pass',
    }
    const low = columns.blo?.[k]
    const high = columns.bhi?.[k]
    if (typeof low === 'number' && typeof high === 'number') point.band = [low, high]
    if (columns.lo) point.low = columns.lo[k] ?? null
    if (columns.n) point.results = columns.n[k] ?? 0
    const at = columns.t?.[k]
    if (typeof at === 'number') point.lastAt = new Date(at * 1000).toISOString()
    return point
  })
  // The database sends the points unordered (cheaper): time order here.
  return { grid, points: points.sort((a, b) => a.index - b.index) }
}

/** An open incident: alert state that is not passing (dq.open_incidents). */
const IncidentSchema = z.object({
  dedup_key: z.string(),
  check: z.string().nullable(),
  alert_kind: z.string(),
  status: z.enum(['warn', 'fail', 'error']),
  opened_at: timestamp.nullable(),
  last_notified_at: timestamp.nullable(),
})
export type Incident = z.infer<typeof IncidentSchema>

/** The scheduled monitor's heartbeat (dq.monitor_status). */
const MonitorSchema = z.object({
  last_beat_at: timestamp.nullable(),
  interval_seconds: z.number().int().nullable(),
  stale_after: timestamp.nullable(),
  stale: z.boolean(),
})
export type Monitor = z.infer<typeof MonitorSchema>

const ListReplySchema = z.object({
  now: timestamp,
  grid: GridSchema,
  latest: z.record(z.string(), HistoryRowSchema),
  series: z.record(z.string(), SeriesColumnsSchema),
})

export type ListData = {
  /** The database's clock: "3 h ago" is measured from it. */
  now: string
  latest: Record<string, HistoryEntry>
  series: Record<string, Series>
}
export type OverviewData = ListData & { incidents: Incident[]; monitor: Monitor }

const since = (now = Date.now()) => new Date(now - WINDOW_DAYS * 86_400_000).toISOString()

/**
 * Each generator's expansion, by its id (dq.status_expansions): its
 * dq.expand_generator answer, or why it could not expand at all.
 */
const ExpansionsSchema = z.record(
  z.string(),
  z.union([
    z.object({ error: z.string(), sqlstate: z.string().nullable() }),
    z.object({ checks: z.array(z.unknown()) }),
  ]),
)
export type Expansions = z.infer<typeof ExpansionsSchema>

/** What a page's call takes of the generators: { id: generate }, or null when there are none. */
function generatorsArg(generators: readonly GeneratorEntry[]) {
  if (generators.length === 0) return null
  return Object.fromEntries(generators.map((entry) => [generatorId(entry), entry.generate]))
}

/**
 * With generators the call runs catalog SQL (their `where`), so it is read-only
 * and bounded as expandCatalog's own calls are.
 */
const callOptions = (generators: readonly GeneratorEntry[]): CallOptions | undefined =>
  generators.length > 0 ? { readOnly: { timeoutSeconds: EXPAND_TIMEOUT_SECONDS } } : undefined

/**
 * The catalog with its generators expanded from a page's `generated` answers,
 * as expandCatalog would from the database: a generator that could not expand
 * is one check in error, with the database's message.
 */
export function expandedWith<C extends Catalog>(catalog: C, generated: Expansions): Promise<C> {
  return expandCatalogWith(catalog, async (entry) => {
    const answer = generated[generatorId(entry)]
    if (!answer) {
      throw new DqError('internal', `the page's reply has no expansion of ${generatorId(entry)}`)
    }
    if ('error' in answer) {
      throw databaseError(Object.assign(new Error(answer.error), { code: answer.sqlstate }))
    }
    return answer.checks
  })
}

function listData(reply: z.infer<typeof ListReplySchema>): ListData {
  return {
    now: reply.now,
    latest: reply.latest,
    series: Object.fromEntries(
      Object.entries(reply.series).map(([name, columns]) => [name, seriesOf(reply.grid, columns)]),
    ),
  }
}

/**
 * The overview: each check's latest result and sparkline (the named checks and
 * those the generators make), open incidents, the heartbeat, the expansions.
 */
export async function overviewData(
  port: DatabasePort,
  checks: readonly string[],
  generators: readonly GeneratorEntry[] = [],
): Promise<OverviewData & { generated: Expansions }> {
  const reply = await port.call(
    'status_overview',
    {
      check_names: [...checks],
      since: since(),
      max_points: OVERVIEW_POINTS,
      generators: generatorsArg(generators),
    },
    callOptions(generators),
  )
  const data = parseReply(
    z.object({
      checks: ListReplySchema,
      incidents: z.array(IncidentSchema),
      monitor: MonitorSchema,
      generated: ExpansionsSchema,
    }),
    reply,
    'status overview',
  )
  return {
    ...listData(data.checks),
    incidents: data.incidents,
    monitor: data.monitor,
    generated: data.generated,
  }
}

/**
 * Coverage by workflow: each gap check's latest result and the trend of its
 * ratio (the named checks and those the generators make), the expansions.
 */
export async function coverageData(
  port: DatabasePort,
  checks: readonly string[],
  generators: readonly GeneratorEntry[] = [],
): Promise<ListData & { generated: Expansions }> {
  const reply = await port.call(
    'status_checks',
    {
      check_names: [...checks],
      since: since(),
      max_points: OVERVIEW_POINTS,
      metric: 'ratio',
      generators: generatorsArg(generators),
    },
    callOptions(generators),
  )
  const data = parseReply(
    ListReplySchema.extend({ generated: ExpansionsSchema }),
    reply,
    'status of the coverage checks',
  )
  return { ...listData(data), generated: data.generated }
}

const CheckReplySchema = z.object({
  now: timestamp,
  grid: GridSchema,
  latest: HistoryRowSchema.nullable(),
  series: SeriesColumnsSchema.nullable(),
  recent: z.array(HistoryRowSchema),
  alerts: z.array(IncidentSchema.extend({ status: z.enum(['pass', 'warn', 'fail', 'error']) })),
})

export type CheckData = {
  now: string
  latest: HistoryEntry | null
  series: Series
  recent: HistoryEntry[]
  /** Its alert state rows (threshold and error), passing ones included. */
  alerts: z.infer<typeof CheckReplySchema>['alerts']
}

/**
 * One check's page: its latest result, its chart, its recent results and alert
 * state; and the expansions, which say whether a generator makes it.
 */
export async function checkData(
  port: DatabasePort,
  check: string,
  generators: readonly GeneratorEntry[] = [],
): Promise<CheckData & { generated: Expansions }> {
  const reply = await port.call(
    'status_check',
    {
      check_name: check,
      since: since(),
      max_points: CHART_POINTS,
      max_results: RECENT_RESULTS,
      generators: generatorsArg(generators),
    },
    callOptions(generators),
  )
  const data = parseReply(
    CheckReplySchema.extend({ generated: ExpansionsSchema }),
    reply,
    'status of a check',
  )
  return {
    now: data.now,
    latest: data.latest,
    series: data.series ? seriesOf(data.grid, data.series) : { grid: data.grid, points: [] },
    recent: data.recent,
    alerts: data.alerts,
    generated: data.generated,
  }
}
