/**
 * The registry of check kinds: the one list every other list of kinds is
 * derived from (the catalog union, the kind names, which kinds report a
 * ratio, the key figure). Adding a kind: a folder under checks/kinds/, its
 * SQL in supabase/schemas/30_kind_<kind>.sql, a line here, a README section.
 *
 * @example
 * ```ts
 * KIND_NAMES // ['stale_keys', 'duplicates', ...]
 * kindOf('coverage_gap').ratio // true
 * ```
 */
import { z } from 'zod'
import type { KindDefinition } from '../kind.ts'
import { coverageGap } from './coverage_gap/index.ts'
import { duplicates } from './duplicates/index.ts'
import { freshness } from './freshness/index.ts'
import { rawVsEnriched } from './raw_vs_enriched/index.ts'
import { requiredFields } from './required_fields/index.ts'
import { rows } from './rows/index.ts'
import { staleKeys } from './stale_keys/index.ts'
import { trigger } from './trigger/index.ts'
import { volume } from './volume/index.ts'

export const KINDS = [
  staleKeys,
  duplicates,
  trigger,
  coverageGap,
  rawVsEnriched,
  requiredFields,
  freshness,
  rows,
  volume,
] as const

type Kinds = typeof KINDS
export type CheckKind = Kinds[number]['kind']

export const KIND_NAMES = KINDS.map((k) => k.kind) as [CheckKind, ...CheckKind[]]
export const CheckKindSchema = z.enum(KIND_NAMES)

type SchemasOf<T extends readonly { schema: unknown }[]> = {
  -readonly [I in keyof T]: T[I]['schema']
}
/** The kinds' catalog schemas, as a tuple of their own types (what the union needs). */
function schemasOf<const T extends readonly { schema: unknown }[]>(kinds: T): SchemasOf<T> {
  return kinds.map((kind) => kind.schema) as SchemasOf<T>
}

/** A catalog entry of any kind, told apart by `kind`. */
export const CheckSchema = z.discriminatedUnion('kind', schemasOf(KINDS), {
  error: (issue) =>
    issue.code === 'invalid_union' && issue.input === undefined
      ? 'is required'
      : `must be one of ${KIND_NAMES.join(', ')}`,
})
export type CheckSpec = z.infer<typeof CheckSchema>

const BY_NAME = new Map<string, KindDefinition>(
  KINDS.map((k) => [k.kind, k as unknown as KindDefinition]),
)

/** A kind's definition by name; undefined for a name no kind has. */
export function kindOf(kind: string): KindDefinition | undefined {
  return BY_NAME.get(kind)
}
