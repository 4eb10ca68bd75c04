/**
 * Which checks of a catalog a run executes. Free of Node APIs: the Worker
 * bundles it.
 *
 * @example
 * ```ts
 * const checks = selectChecks(catalog, { names: ['pwh_experience_key_stale'] })
 * ```
 */
import { DqError } from '../kernel/errors.ts'
import type { Catalog, ResolvedCheck } from './catalog.ts'

export type Selection = { names?: readonly string[]; tags?: readonly string[] }

/** A name as an error quotes it: never unbounded input. */
export function quoted(name: string, max = 80): string {
  const text = JSON.stringify(name.length > max ? `${name.slice(0, max)}…` : name)
  return text
}

/**
 * The checks a run executes: the named ones (even if disabled), else the
 * enabled ones with any of the tags, else every enabled check. A name no
 * check has is an error (unknown_check).
 */
export function selectChecks(catalog: Catalog, selection: Selection = {}): ResolvedCheck[] {
  const names = selection.names ?? []
  const tags = selection.tags ?? []
  const unknown = names.filter((name) => !catalog.checks.some((check) => check.name === name))
  if (unknown.length > 0) {
    const known = catalog.checks.map((c) => c.name)
    throw new DqError(
      'unknown_check',
      `no check named ${unknown
        .slice(0, 5)
        .map((n) => quoted(n))
        .join(
          ', ',
        )}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} in the catalog (known: ${known.slice(0, 50).join(', ') || 'none'}${known.length > 50 ? ', ...' : ''})`,
      { unknown: unknown.slice(0, 20).map((n) => n.slice(0, 80)) },
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
