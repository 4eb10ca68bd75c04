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
import { isUnexpandedGenerator } from './generate.ts'

export type Selection = { names?: readonly string[]; tags?: readonly string[] }

/** A name as an error quotes it: never unbounded input. */
function quoted(name: string, max = 80): string {
  const text = JSON.stringify(name.length > max ? `${name.slice(0, max)}…` : name)
  return text
}

/** "a", "b" and 3 more: at most five, each bounded. */
function listed(values: readonly string[]): string {
  const shown = values
    .slice(0, 5)
    .map((value) => quoted(value, 60))
    .join(', ')
  return values.length > 5 ? `${shown} and ${values.length - 5} more` : shown
}

/**
 * The checks a run executes: the named ones (even if disabled), else the
 * enabled ones with any of the tags, else every enabled check. A name no
 * check has, or a tag no enabled check has, is an error (unknown_check):
 * a typo never becomes an empty run that passes.
 */
export function selectChecks(catalog: Catalog, selection: Selection = {}): ResolvedCheck[] {
  const names = selection.names ?? []
  const tags = selection.tags ?? []
  const unknown = names.filter((name) => !catalog.checks.some((check) => check.name === name))
  if (unknown.length > 0) {
    const known = catalog.checks.map((c) => c.name)
    // A generator that could not expand hides its checks: say so rather than "no such check".
    const unexpanded = catalog.checks
      .filter(isUnexpandedGenerator)
      .map((c) => `; ${c.generated?.error} (the checks it makes are unknown until it expands)`)
    throw new DqError(
      'unknown_check',
      `no check named ${listed(unknown)} in the catalog (known: ${known.slice(0, 50).join(', ') || 'none'}${known.length > 50 ? ', ...' : ''})${unexpanded.join('')}`,
      { unknown: unknown.slice(0, 20).map((n) => n.slice(0, 80)) },
    )
  }
  const unmatched = tags.filter(
    (tag) => !catalog.checks.some((check) => check.enabled && check.tags.includes(tag)),
  )
  if (unmatched.length > 0) {
    throw new DqError('unknown_check', `no enabled check has the tag ${listed(unmatched)}`, {
      tags: unmatched.slice(0, 20).map((t) => t.slice(0, 60)),
    })
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
