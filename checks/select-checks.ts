/**
 * Which checks of a catalog a run executes. Free of Node APIs: the Worker
 * bundles it.
 *
 * @example
 * ```ts
 * const checks = selectChecks(catalog, { names: ['pwh_experience_key_stale'] })
 * ```
 */
import type { Catalog, ResolvedCheck } from './catalog.ts'
import { DqError } from './errors.ts'

export type Selection = { names?: readonly string[]; tags?: readonly string[] }

/**
 * The checks a run executes: the named ones (even if disabled), else the
 * enabled ones with any of the tags, else every enabled check.
 */
export function selectChecks(catalog: Catalog, selection: Selection = {}): ResolvedCheck[] {
  const names = selection.names ?? []
  const tags = selection.tags ?? []
  const unknown = names.filter((name) => !catalog.checks.some((check) => check.name === name))
  if (unknown.length > 0) {
    throw new DqError(
      'unknown_check',
      `no check named ${unknown.map((n) => `"${n}"`).join(', ')} in the catalog (known: ${catalog.checks.map((c) => c.name).join(', ') || 'none'})`,
      { unknown },
    )
  }
  return catalog.checks.filter((check) => {
    if (names.length > 0 || tags.length > 0) {
      return (
        names.includes(check.name) || (check.enabled && check.tags.some((t) => tags.includes(t)))
      )
    }
    return check.enabled
  })
}
