/**
 * Checks generated from a table: a catalog entry
 * `{ "generate": { "name", "from", "where"?, "check" } }` expands, at every
 * run, inside the database and read-only (`dq.expand_generator`,
 * supabase/schemas/26_generators.sql), to one check per row of `from`. A
 * `{column}` placeholder is the whole value of a field and is written as a
 * quoted identifier, never as SQL text. A row that cannot make a valid check
 * (a value that is not a name, a NULL, a name two rows share, a name a
 * catalog check has) gives that one check an `error`; the others run.
 *
 * @example
 * ```ts
 * const catalog = await expandCatalog(port, await loadCatalog({ path }))
 * catalog.checks.filter((c) => c.generated) // one per registry row
 * ```
 */
import { z } from 'zod'
import { messageOf } from '../kernel/errors.ts'
import { parseReply } from '../kernel/parse.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { applyDefaults, type Catalog, type ResolvedCheck } from './catalog.ts'
import { type Generated, type GeneratorEntry, generatorId, PLACEHOLDER } from './generator-entry.ts'
import { CheckSchema } from './kinds/index.ts'

const ExpansionSchema = z.array(
  z.object({
    name: z.string(),
    row: z.record(z.string(), z.unknown()),
    spec: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
  }),
)

/** How long expanding may take (dq.expand_generator's own statement_timeout is 55 s). */
export const EXPAND_TIMEOUT_SECONDS = 60

/**
 * The catalog with every generator expanded against the database, its checks
 * after the catalog's own. A generator that cannot expand at all (its `from`
 * does not exist) is one check in error, named by its id.
 */
export async function expandCatalog<C extends Catalog>(port: DatabasePort, catalog: C): Promise<C> {
  return expandCatalogWith(catalog, (entry) =>
    port.call(
      'expand_generator',
      { generator: entry.generate },
      { readOnly: { timeoutSeconds: EXPAND_TIMEOUT_SECONDS } },
    ),
  )
}

/**
 * expandCatalog with each generator's `dq.expand_generator` answer from
 * `expand` (the status page's call brings them all at once); a generator
 * whose `expand` throws is one check in error, named by its id.
 */
export async function expandCatalogWith<C extends Catalog>(
  catalog: C,
  expand: (entry: GeneratorEntry) => Promise<unknown>,
): Promise<C> {
  if (catalog.generators.length === 0) return catalog
  const taken = new Set(catalog.checks.map((check) => check.name))
  const generated: ResolvedCheck[] = []
  for (const entry of catalog.generators) {
    const by = generatorId(entry)
    const from = entry.generate.from
    const kind = String(entry.generate.check.kind)
    // A check the generator could not make still carries the template's owner, tags and
    // severity, so `--tag`, the alert's owner and its routing still find it.
    const carried = carriedFields(entry.generate.check)
    const failed = (name: string, row: Record<string, unknown>, error: string) =>
      invalidCheck(catalog, { ...carried, name, kind, generated: { by, from, row, error } })
    let expansion: z.infer<typeof ExpansionSchema>
    try {
      expansion = parseReply(ExpansionSchema, await expand(entry), 'generated checks')
    } catch (error) {
      generated.push(failed(by, {}, `generator ${by} could not expand: ${messageOf(error)}`))
      continue
    }
    for (const { name, row, spec, error } of expansion) {
      if (error !== null || spec === null) {
        generated.push(failed(name, row, error ?? 'no check'))
      } else if (taken.has(name)) {
        generated.push(
          failed(
            name,
            row,
            `generated name "${name}" is already the name of a check in the catalog`,
          ),
        )
      } else {
        const parsed = CheckSchema.safeParse({ ...spec, name })
        generated.push(
          parsed.success
            ? { ...applyDefaults(parsed.data, catalog.defaults), generated: { by, from, row } }
            : failed(
                name,
                row,
                parsed.error.issues
                  .map((i) => `generate.check.${i.path.join('.')}: ${i.message}`)
                  .join('; '),
              ),
        )
      }
      taken.add(name)
    }
  }
  return { ...catalog, checks: [...catalog.checks, ...generated] }
}

/** The template's fields that say who owns a check and how it alerts (never SQL text). */
const CARRIED_FIELDS = ['description', 'owner', 'tags', 'severity', 'schedule', 'repeatInterval']

function carriedFields(template: Record<string, unknown>): Record<string, unknown> {
  const fields = CARRIED_FIELDS.filter((field) => field in template).map(
    (field) => [field, template[field]] as const,
  )
  // A placeholder in one of them is left out: only a valid row fills it.
  return Object.fromEntries(fields.filter(([, value]) => !JSON.stringify(value).match(PLACEHOLDER)))
}

/**
 * A generator that could not expand at all (its `from` is missing or
 * unreadable): the checks it makes are unknown this run, so an absent
 * generated check proves nothing (alerts do not resolve as removed).
 */
export function isUnexpandedGenerator(check: Pick<ResolvedCheck, 'name' | 'generated'>): boolean {
  return check.generated?.error !== undefined && check.name === check.generated.by
}

/** A generated check that cannot run: resolved with the defaults, its error carried along. */
function invalidCheck(
  catalog: Catalog,
  check: { name: string; kind: string; generated: Generated } & Record<string, unknown>,
): ResolvedCheck {
  // Only its name, kind, defaults and error are read: the runner never sends it to the database.
  return applyDefaults(check as never, catalog.defaults)
}
