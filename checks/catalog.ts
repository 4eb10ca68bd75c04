/**
 * The catalog contract: which checks exist and how each one is configured.
 * Every type here is inferred from its zod schema, so the schema is the one
 * source of truth for the CLI, the HTTP API and the Worker. A kind's own
 * fields live in its folder (checks/kinds/<kind>); the fields every check has
 * in checks/fields.ts.
 *
 * @example
 * ```ts
 * const catalog = parseCatalog(JSON.parse(text)) // throws DqError 'invalid_catalog'
 * for (const check of catalog.checks) console.log(check.name, check.kind)
 * ```
 */
import { z } from 'zod'
import { PositiveDurationSchema } from '../kernel/duration.ts'
import { DqError } from '../kernel/errors.ts'
import { cron, type Severity, SeveritySchema, TimeoutSecondsSchema } from './fields.ts'
import {
  type Generated,
  type GeneratorEntry,
  GeneratorEntrySchema,
  generatorId,
} from './generator-entry.ts'
import { CheckSchema, type CheckSpec, kindOf } from './kinds/index.ts'
import { DEFAULT_THRESHOLD, type Threshold, ThresholdSchema } from './threshold.ts'

export type { Severity } from './fields.ts'
export { type CheckKind, type CheckSpec, KIND_NAMES } from './kinds/index.ts'
export type { Threshold } from './threshold.ts'

const DEFAULTS = {
  schedule: '0 * * * *',
  severity: 'warning',
  timeoutSeconds: 60,
  repeatInterval: '24 hours',
} as const

const DefaultsSchema = z.strictObject({
  schedule: cron.default(DEFAULTS.schedule),
  severity: SeveritySchema.default(DEFAULTS.severity),
  timeoutSeconds: TimeoutSecondsSchema.default(DEFAULTS.timeoutSeconds),
  threshold: ThresholdSchema.optional(),
  owner: z.string().optional(),
  /** Reminder interval for checks that stay broken, e.g. "24 hours". */
  repeatInterval: PositiveDurationSchema.default(DEFAULTS.repeatInterval),
})

/** A check, or a generator of checks (`{ "generate": ... }`, checks/generator-entry.ts). */
const CatalogEntrySchema = z.unknown().transform((entry, ctx): CheckSpec | GeneratorEntry => {
  const generator = typeof entry === 'object' && entry !== null && 'generate' in entry
  const parsed = (generator ? GeneratorEntrySchema : CheckSchema).safeParse(entry)
  if (!parsed.success) {
    // Issues at the entry's own paths (checks[1].columns), whichever schema it is.
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path })
    }
    return z.NEVER
  }
  return parsed.data
})

const isGenerator = (entry: CheckSpec | GeneratorEntry): entry is GeneratorEntry =>
  'generate' in entry

const CatalogSchema = z
  .strictObject({
    $schema: z.string().optional(),
    defaults: DefaultsSchema.default(DEFAULTS),
    checks: z.array(CatalogEntrySchema),
  })
  .superRefine(
    (catalog, ctx) => {
      const seen = new Map<string, number>()
      catalog.checks.forEach((entry, index) => {
        // It runs beside the entries' own errors (every error in one pass), so an entry
        // may be one that did not parse: only well-formed facts are compared.
        if (!entry || typeof entry !== 'object') return
        if (isGenerator(entry)) {
          const id = generatorId(entry)
          const first = seen.get(id)
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['checks', index, 'generate', 'name'],
              message: `this generator's id "${id}" is already the name of checks[${first}]: give it another name template`,
            })
          } else {
            seen.set(id, index)
          }
          return
        }
        const check = entry
        const kind = kindOf(check.kind)
        const metric = kind?.ownStatus
          ? undefined
          : (check.threshold ?? catalog.defaults?.threshold)?.metric
        if (metric === 'ratio' && kind && !kind.ratio) {
          ctx.addIssue({
            code: 'custom',
            path: ['checks', index, 'threshold', 'metric'],
            message: `"ratio" is not reported by ${check.kind} checks: use "count"`,
          })
        }
        if (check.anomaly?.metric === 'ratio' && kind && !kind.ratio) {
          ctx.addIssue({
            code: 'custom',
            path: ['checks', index, 'anomaly', 'metric'],
            message: `"ratio" is not reported by ${check.kind} checks: use "value"`,
          })
        }
        if (typeof check.name !== 'string') return
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
    },
    {
      when: (payload) => {
        const value = payload.value as { checks?: unknown } | null
        return typeof value === 'object' && value !== null && Array.isArray(value.checks)
      },
    },
  )

/** What users write (defaults and optional fields left out). */
export type CatalogInput = {
  $schema?: string
  defaults?: z.input<typeof DefaultsSchema>
  checks: (CheckInput | z.input<typeof GeneratorEntrySchema>)[]
}
export type CheckInput = z.input<typeof CheckSchema>
export type Defaults = z.infer<typeof DefaultsSchema>

/** Omit, kind by kind (a plain Omit would merge the union). */
type WithoutThreshold<T> = T extends unknown ? Omit<T, 'threshold'> : never

/**
 * A check with the catalog's defaults applied: what the runner executes.
 * `threshold` is null when no threshold applies: a kind that decides its own
 * status (volume), or a check with `anomaly` and no threshold of its own or
 * in the defaults (then only the anomaly test can fail it).
 */
export type ResolvedCheck = WithoutThreshold<CheckSpec> & {
  threshold: Threshold | null
  severity: Severity
  schedule: string
  timeoutSeconds: number
  enabled: boolean
  tags: string[]
  repeatInterval: string
  /** Set on checks generated from a table (checks/generate.ts). */
  generated?: Generated
}

export type Catalog = {
  /** The catalog's own checks, then (after expandCatalog) the generated ones. */
  checks: ResolvedCheck[]
  /** Generators, expanded against the database at every run (checks/generate.ts). */
  generators: GeneratorEntry[]
  defaults: Defaults
}

/** A check with the catalog's defaults applied. */
export function applyDefaults(check: CheckSpec, defaults: Defaults): ResolvedCheck {
  return {
    ...check,
    threshold: resolveThreshold(check, defaults.threshold),
    severity: check.severity ?? defaults.severity,
    schedule: check.schedule ?? defaults.schedule,
    timeoutSeconds: check.timeoutSeconds ?? defaults.timeoutSeconds,
    enabled: check.enabled ?? true,
    tags: check.tags ?? [],
    repeatInterval: check.repeatInterval ?? defaults.repeatInterval,
    ...((check.owner ?? defaults.owner) ? { owner: check.owner ?? defaults.owner } : {}),
  }
}

/** `checks[1].columns[0]` from zod's path. */
function formatPath(path: readonly PropertyKey[]): string {
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
    // In catalog order: an entry's cross-checks (ratio, unique names) come after the others.
    const entry = (path: readonly PropertyKey[]) =>
      path[0] === 'checks' && typeof path[1] === 'number' ? path[1] : -1
    const issues = [...parsed.error.issues]
      .sort((a, b) => entry(a.path) - entry(b.path))
      .map((issue) => ({ path: formatPath(issue.path), message: issue.message }))
    throw new DqError(
      'invalid_catalog',
      `${source} is not a valid catalog:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
      issues,
    )
  }
  const { defaults, checks } = parsed.data
  return {
    checks: checks
      .filter((entry): entry is CheckSpec => !isGenerator(entry))
      .map((check) => applyDefaults(check, defaults)),
    generators: checks.filter(isGenerator),
    defaults,
  }
}

function resolveThreshold(check: CheckSpec, byDefault: Threshold | undefined): Threshold | null {
  if (kindOf(check.kind)?.ownStatus) return null
  const threshold = check.threshold ?? byDefault
  if (threshold) return threshold
  return check.anomaly ? null : DEFAULT_THRESHOLD
}

/** Typed helper for catalogs written in TypeScript: `export default defineCatalog({...})`. */
export function defineCatalog(catalog: CatalogInput): CatalogInput {
  return catalog
}
