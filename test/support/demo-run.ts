/**
 * The demo catalog run once on a seeded test database, its results by check
 * name: what every incidents test starts from.
 *
 * @example
 * ```ts
 * const database = useDatabase(engine, { seed: true })
 * const result = useDemoRun(database, (checks) => checks.filter((c) => c.generated))
 * it('...', () => expect(result('job_postings_to_core_gap').value).toBe(600))
 * ```
 */
import { beforeAll, expect } from 'vitest'
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { expandCatalog } from '../../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../../checks/load-catalog.ts'
import type { CheckResult } from '../../checks/result.ts'
import { runChecks } from '../../checks/run-checks.ts'
import { selectChecks } from '../../checks/select-checks.ts'
import type { TestDatabase } from './databases.ts'

/**
 * Runs the demo catalog's enabled checks (generated ones included) that
 * `choose` keeps, in a `beforeAll`, and expects the run to be recorded.
 * Returns the result of a check by name (throws for one that did not run).
 */
export function useDemoRun(
  database: () => TestDatabase,
  choose: (checks: ResolvedCheck[]) => ResolvedCheck[],
): { result: (name: string) => CheckResult; names: () => string[] } {
  const results = new Map<string, CheckResult>()
  beforeAll(async () => {
    const catalog = await expandCatalog(database().db, await loadCatalog({ path: BUNDLED_CATALOG }))
    const run = await runChecks(database().db, choose(selectChecks(catalog)), { trigger: 'cli' })
    expect(run.recorded).toBe(true)
    for (const result of run.results) results.set(result.check, result)
  })
  return {
    result: (name) => {
      const found = results.get(name)
      if (!found) throw new Error(`no result for ${name}`)
      return found
    },
    names: () => [...results.keys()],
  }
}

/** A `choose` for useDemoRun: the checks with these names. */
export const named =
  (names: readonly string[]) =>
  (checks: ResolvedCheck[]): ResolvedCheck[] =>
    checks.filter((check) => names.includes(check.name))
