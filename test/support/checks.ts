/**
 * Check specs for engine tests, built the way the runner gets them: through
 * `parseCatalog`, so the catalog's defaults are applied and a spec the catalog
 * would reject never reaches the database.
 *
 * @example
 * ```ts
 * const m = await database().db.runCheck(spec({ kind: 'duplicates', table: 't.a', columns: ['a'] }), RUN)
 * const error = await rejection(database().db.runCheck(spec({ ... }), RUN))
 * expect(error.message).toContain('check field "table"')
 * ```
 */
import { parseCatalog, type ResolvedCheck } from '../../checks/catalog.ts'
import { DqError } from '../../kernel/errors.ts'

/** The options every engine test runs a check with. */
export const RUN = { timeoutSeconds: 30 } as const

/** One catalog entry (name defaults to "x"), validated, with the catalog defaults applied. */
export function spec(input: Record<string, unknown>): ResolvedCheck {
  const [check] = parseCatalog({ checks: [{ name: 'x', ...input }] }).checks
  if (!check) throw new Error('parseCatalog returned no check')
  return check
}

/** The DqError a promise rejects with; fails when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<DqError> {
  let outcome: unknown
  try {
    outcome = await promise
  } catch (error) {
    if (error instanceof DqError) return error
    throw new Error(`expected a DqError, got ${String(error)}`)
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`)
}

/** The issues parseCatalog reports for one check ({ path, message } each); [] when it is valid. */
export function catalogIssues(check: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parseCatalog({ checks: [check] })
    return []
  } catch (error) {
    if (!(error instanceof DqError)) throw error
    return error.details as { path: string; message: string }[]
  }
}
