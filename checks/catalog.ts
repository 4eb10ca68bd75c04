/**
 * The catalog contract: which checks exist and how each one is configured.
 * Every type here is inferred from its zod schema, so the schema is the one
 * source of truth for the CLI, the HTTP API and the Worker.
 *
 * @example
 * ```ts
 * const catalog = parseCatalog(JSON.parse(text)) // throws DqError 'invalid_catalog'
 * for (const check of catalog.checks) console.log(check.name, check.kind)
 * ```
 */
import { z } from 'zod'
import { DurationSchema } from '../alerts/duration/index.ts'
import { DqError } from './errors.ts'
import { cronError } from './schedule.ts'

export const CHECK_KINDS = [
  'stale_keys',
  'duplicates',
  'trigger',
  'coverage_gap',
  'raw_vs_enriched',
] as const

/** A SQL expression, predicate or table name from trusted configuration. */
const sql = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .trim()
    .min(1, `must not be empty (${what})`)
    .refine((text) => !text.includes(';'), 'must be a single SQL expression: no ";"')
    .refine(
      (text) => !text.includes('--') && !text.includes('/*'),
      'must not contain SQL comments ("--" or "/*")',
    )

const table = sql('a table or view: schema.table, or a quoted "Schema"."Table"')
const expression = sql('a column name or SQL expression')
const predicate = sql('a SQL predicate, as after WHERE')

/** A PostgreSQL interval literal, e.g. "24 hours", "7 days". */
const interval = z
  .string()
  .trim()
  .regex(
    /^(\d+(\.\d+)?\s*(microseconds?|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?|mons?|years?|y)\s*)+$/i,
    'must be an interval such as "24 hours" or "7 days"',
  )

/** Standard five-field cron, e.g. "0 * * * *" (UTC). */
const cron = z
  .string()
  .trim()
  .superRefine((expression, ctx) => {
    const problem = cronError(expression)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

export const ThresholdSchema = z.strictObject({
  warn: z.number().nonnegative().optional(),
  fail: z.number().nonnegative().optional(),
  metric: z.enum(['count', 'ratio']).default('count'),
})
export type Threshold = z.infer<typeof ThresholdSchema>

/** Without a threshold a check fails as soon as its value is above 0. */
export const DEFAULT_THRESHOLD: Threshold = { fail: 0, metric: 'count' }

export const SeveritySchema = z.enum(['info', 'warning', 'critical'])
export type Severity = z.infer<typeof SeveritySchema>

const common = {
  name: z
    .string()
    .regex(
      /^[a-z][a-z0-9_]{0,62}$/,
      'must be lowercase letters, digits and "_", starting with a letter, at most 63 characters',
    ),
  description: z.string().optional(),
  threshold: ThresholdSchema.optional(),
  severity: SeveritySchema.optional(),
  owner: z.string().optional(),
  tags: z.array(z.string().min(1)).optional(),
  schedule: cron.optional(),
  timeoutSeconds: z.number().int().positive().max(3600).optional(),
  enabled: z.boolean().optional(),
  /** While failing, notify again this often (alerts/policy); default: defaults.repeatInterval. */
  repeatInterval: DurationSchema.optional(),
}

/**
 * Incremental runs (duplicates, stale_keys, coverage_gap): between full runs,
 * only rows whose `column` moved past the last successful run's watermark
 * (kept in history) are checked. `column` is a timestamp or date that every
 * write moves forward; `lookback` re-reads rows of transactions still open at
 * the last run (default 10 minutes); `fullEvery` defaults to 24 hours.
 */
export const IncrementalSchema = z.strictObject(
  {
    column: expression,
    fullEvery: interval.optional(),
    lookback: interval.optional(),
  },
  { error: 'must be an object { column, fullEvery?, lookback? }' },
)
export type Incremental = z.infer<typeof IncrementalSchema>

/** A stale_keys estimate from `percent` % of the table's pages (TABLESAMPLE SYSTEM). */
export const SampleSchema = z.strictObject(
  {
    percent: z
      .number({ error: 'must be a number (percent of the table to read)' })
      .gt(0, 'must be above 0')
      .max(100, 'must be at most 100'),
  },
  { error: 'must be an object { percent }' },
)

export const StaleKeysSchema = z
  .strictObject({
    ...common,
    kind: z.literal('stale_keys'),
    table,
    key: expression,
    formula: expression,
    id: expression.optional(),
    where: predicate.nullish(),
    incremental: IncrementalSchema.optional(),
    sample: SampleSchema.optional(),
  })
  .superRefine((check, ctx) => {
    if (check.incremental !== undefined && check.sample !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sample'],
        message:
          'give either "sample" (an estimate over the whole table) or "incremental" (changed rows, exactly), not both',
      })
    }
  })

export const DuplicatesSchema = z.strictObject({
  ...common,
  kind: z.literal('duplicates'),
  table,
  columns: z.array(expression).min(1, 'must list at least one column or expression'),
  where: predicate.nullish(),
  maxPerKey: z.number().int().min(1).optional(),
  id: expression.optional(),
  incremental: IncrementalSchema.optional(),
})

const TRIGGER_EVENTS = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const

export const TriggerSchema = z
  .strictObject({
    ...common,
    kind: z.literal('trigger'),
    table: table.optional(),
    trigger: z.string().trim().min(1).optional(),
    function: z.string().trim().min(1).optional(),
    events: z
      .array(
        z
          .string()
          .transform((event) => event.toUpperCase())
          .pipe(z.enum(TRIGGER_EVENTS)),
      )
      .min(1)
      .optional(),
    timing: z
      .string()
      .transform((timing) => timing.toUpperCase())
      .pipe(z.enum(['BEFORE', 'AFTER', 'INSTEAD OF']))
      .optional(),
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
  })

const side = (where: string) =>
  z.strictObject(
    { table, key: expression, where: predicate.nullish() },
    { error: `must be an object { table, key, where? } (${where})` },
  )

export const CoverageGapSchema = z.strictObject({
  ...common,
  kind: z.literal('coverage_gap'),
  source: side('the rows that must have a match'),
  target: side('where the match must be'),
  /** `column` is the source's: changed source rows are looked up in the whole target. */
  incremental: IncrementalSchema.optional(),
})

export const RawVsEnrichedSchema = z
  .strictObject({
    ...common,
    kind: z.literal('raw_vs_enriched'),
    raw: z.strictObject(
      { table, key: expression, time: expression.optional(), where: predicate.nullish() },
      { error: 'must be an object { table, key, time?, where? }' },
    ),
    enriched: side('the rows the raw rows should produce'),
    window: interval.optional(),
    grace: interval.optional(),
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
  })

export const CheckSchema = z.discriminatedUnion(
  'kind',
  [StaleKeysSchema, DuplicatesSchema, TriggerSchema, CoverageGapSchema, RawVsEnrichedSchema],
  {
    error: (issue) =>
      issue.code === 'invalid_union' && issue.input === undefined
        ? 'is required'
        : `must be one of ${CHECK_KINDS.join(', ')}`,
  },
)
export type CheckSpec = z.infer<typeof CheckSchema>
export type CheckKind = CheckSpec['kind']

/** Kinds whose details include `ratio` (0..1), usable with `metric: "ratio"`. */
const KINDS_WITH_RATIO = new Set<string>(['stale_keys', 'coverage_gap', 'raw_vs_enriched'])

export const DefaultsSchema = z.strictObject({
  schedule: cron.default('0 * * * *'),
  severity: SeveritySchema.default('warning'),
  timeoutSeconds: z.number().int().positive().max(3600).default(60),
  threshold: ThresholdSchema.optional(),
  owner: z.string().optional(),
  /** Reminder interval for checks that stay broken, e.g. "24 hours". */
  repeatInterval: DurationSchema.default('24 hours'),
})

export const CatalogSchema = z
  .strictObject({
    $schema: z.string().optional(),
    defaults: DefaultsSchema.default({
      schedule: '0 * * * *',
      severity: 'warning',
      timeoutSeconds: 60,
      repeatInterval: '24 hours',
    }),
    checks: z.array(CheckSchema),
  })
  .superRefine((catalog, ctx) => {
    const seen = new Map<string, number>()
    catalog.checks.forEach((check, index) => {
      const metric = (check.threshold ?? catalog.defaults.threshold)?.metric
      if (metric === 'ratio' && !KINDS_WITH_RATIO.has(check.kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['checks', index, 'threshold', 'metric'],
          message: `"ratio" is not reported by ${check.kind} checks: use "count"`,
        })
      }
      const first = seen.get(check.name)
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['checks', index, 'name'],
          message: `"${check.name}" is already the name of checks[${first}]: names must be unique`,
        })
      } else {
        seen.set(check.name, index)
      }
    })
  })

/** What users write (defaults and optional fields left out). */
export type CatalogInput = z.input<typeof CatalogSchema>
export type CheckInput = z.input<typeof CheckSchema>

/** A check with the catalog's defaults applied: what the runner executes. */
export type ResolvedCheck = CheckSpec & {
  threshold: Threshold
  severity: Severity
  schedule: string
  timeoutSeconds: number
  enabled: boolean
  tags: string[]
  repeatInterval: string
}

export type Catalog = { checks: ResolvedCheck[] }

/** `checks[1].columns[0]` from zod's path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
    )
    .join('')
}

/** Validates a catalog object and applies its defaults. Throws DqError('invalid_catalog'). */
export function parseCatalog(input: unknown, source = 'catalog'): Catalog {
  const parsed = CatalogSchema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
    }))
    throw new DqError(
      'invalid_catalog',
      `${source} is not a valid catalog:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
      issues,
    )
  }
  const { defaults, checks } = parsed.data
  return {
    checks: checks.map((check) => ({
      ...check,
      threshold: check.threshold ?? defaults.threshold ?? DEFAULT_THRESHOLD,
      severity: check.severity ?? defaults.severity,
      schedule: check.schedule ?? defaults.schedule,
      timeoutSeconds: check.timeoutSeconds ?? defaults.timeoutSeconds,
      enabled: check.enabled ?? true,
      tags: check.tags ?? [],
      repeatInterval: check.repeatInterval ?? defaults.repeatInterval,
      ...((check.owner ?? defaults.owner) ? { owner: check.owner ?? defaults.owner } : {}),
    })),
  }
}

/** Typed helper for catalogs written in TypeScript: `export default defineCatalog({...})`. */
export function defineCatalog(catalog: CatalogInput): CatalogInput {
  return catalog
}
