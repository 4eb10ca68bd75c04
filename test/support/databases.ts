/**
 * The databases every engine test runs against: embedded PGlite always, and a
 * real PostgreSQL server when DQ_TEST_DATABASE_URL is set. Under CI=true a
 * missing server is a failure, never a silent skip.
 *
 * Each test file gets fresh databases: a new PGlite instance, and a new
 * database `dq_test_<random>` on the server, dropped afterwards. Opening them
 * is test-databases.ts's (free of vitest, for global setups); this module
 * adds `useDatabase` for test files.
 *
 * @example
 * ```ts
 * describe.each(engines())('%s', (engine) => {
 *   const db = useDatabase(engine, { seed: true })
 *   it('...', async () => { await db().runCheck(...) })
 * })
 * ```
 */
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll } from 'vitest'
import { SEED_FILE } from '../../db/migrations.ts'
import { type Engine, openTestDatabase, type TestDatabase } from './test-databases.ts'

export * from './test-databases.ts'

/** Opens a fresh database for this describe block: migrated, and seeded when asked. */
export function useDatabase(engine: Engine, options: { seed?: boolean } = {}): () => TestDatabase {
  let handle: (TestDatabase & { close(): Promise<void> }) | undefined
  beforeAll(async () => {
    handle = await openTestDatabase(engine)
    await handle.db.migrate()
    if (options.seed) await handle.exec(await readFile(SEED_FILE, 'utf8'))
  })
  afterAll(async () => {
    await handle?.close()
  })
  return () => {
    if (!handle) throw new Error('database not ready (beforeAll failed?)')
    return handle
  }
}
