/**
 * A generator, as the catalog holds it: `{ "generate": { "name", "from",
 * "where"?, "check" } }`, its id, and what a check generated from it carries.
 * The catalog parses entries with it (checks/catalog.ts) and the expansion
 * against the database reads it (checks/generate.ts); neither imports the
 * other for it, so imports run one way: generate -> catalog -> generator-entry.
 *
 * @example
 * ```ts
 * const entry = GeneratorEntrySchema.parse({ generate: { name: '{wf}_gap', from: 'ops.workflows', check } })
 * generatorId(entry) // 'generate_gap'
 * ```
 */
import { z } from 'zod'
import { CheckNameSchema, predicate, table } from './fields.ts'
import { CheckSchema } from './kinds/index.ts'

/** A `{column}` placeholder, anywhere in a string. */
export const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g
const WHOLE_PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/

/** What a generated check carries: where it came from. */
export type Generated = {
  /** The generator's id (`generate_<name template without placeholders>`). */
  by: string
  /** The table it was generated from. */
  from: string
  /** That table's row, as the database gave it. */
  row: Record<string, unknown>
  /** Why this row makes no valid check (the check is then an error, without a database call). */
  error?: string
}

/** Where a placeholder sits inside a longer string (refused: it would be SQL text). */
function partialPlaceholders(value: unknown, path: string[]): string[][] {
  if (Array.isArray(value))
    return value.flatMap((v, i) => partialPlaceholders(v, [...path, String(i)]))
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) => partialPlaceholders(v, [...path, key]))
  }
  if (
    typeof value === 'string' &&
    !WHOLE_PLACEHOLDER.test(value) &&
    /\{[A-Za-z_][A-Za-z0-9_]*\}/.test(value)
  ) {
    return [path]
  }
  return []
}

/** A check template with dummy identifiers in its placeholders, for validating it before any row. */
function withDummies(value: unknown, path: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => withDummies(v, [...path, String(i)]))
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [key, withDummies(v, [...path, key])]),
    )
  }
  if (typeof value === 'string' && WHOLE_PLACEHOLDER.test(value)) {
    return path.at(-1) === 'table' ? 'generated.placeholder' : 'placeholder'
  }
  return value
}

export const GeneratorEntrySchema = z.strictObject({
  generate: z
    .strictObject({
      name: z
        .string()
        .regex(
          /^[A-Za-z0-9_{}]+$/,
          'must be a name template such as "{workflow_name}_to_core_gap": letters, digits, "_" and {column} placeholders',
        )
        .refine((name) => /\{[A-Za-z_][A-Za-z0-9_]*\}/.test(name), {
          message: 'must hold at least one {column} placeholder: each row needs its own name',
        }),
      from: table,
      where: predicate.optional(),
      check: z.record(z.string(), z.unknown()),
    })
    .superRefine((generate, ctx) => {
      const template = { ...generate.check, name: 'placeholder_check' }
      const parsed = CheckSchema.safeParse(withDummies(template, []))
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: 'custom', message: issue.message, path: ['check', ...issue.path] })
        }
      }
      if ('name' in generate.check) {
        ctx.addIssue({
          code: 'custom',
          path: ['check', 'name'],
          message: 'goes in generate.name (a template), not in generate.check',
        })
      }
      for (const path of partialPlaceholders(generate.check, [])) {
        ctx.addIssue({
          code: 'custom',
          path: ['check', ...path],
          message:
            'a {column} placeholder must be the whole value of a field (it becomes a quoted identifier), never part of an expression',
        })
      }
    }),
})
export type GeneratorEntry = z.infer<typeof GeneratorEntrySchema>

/** A generator's id: "generate_" and its name template without placeholders ("generate_to_core_gap"). */
export function generatorId(entry: GeneratorEntry): string {
  const rest = entry.generate.name
    .replace(PLACEHOLDER, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
  return CheckNameSchema.parse(`generate${rest ? `_${rest}` : ''}`.slice(0, 63))
}
