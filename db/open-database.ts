/**
 * Picks the adapter for a database reference, the same way everywhere:
 * `--db` or DQ_DATABASE_URL; `postgres://...` uses postgres.js, `pglite:memory`
 * or `pglite:DIR` embedded PGlite.
 *
 * @example
 * ```ts
 * const db = await openDatabase(flags.db ?? process.env.DQ_DATABASE_URL)
 * ```
 */
import { DqError } from '../checks/errors.ts'
import type { Database } from './database.ts'

export async function openDatabase(reference: string | undefined): Promise<Database> {
  const ref = reference?.trim()
  if (!ref) {
    throw new DqError(
      'config',
      'no database: pass --db postgres://... (or pglite:memory, pglite:DIR), or set DQ_DATABASE_URL',
    )
  }
  if (ref.startsWith('pglite:')) {
    const { PGliteDatabase } = await import('./pglite.ts')
    return PGliteDatabase.open(ref.slice('pglite:'.length) || 'memory')
  }
  if (/^postgres(ql)?:\/\//.test(ref)) {
    const { PostgresJsDatabase } = await import('./postgres-js.ts')
    return PostgresJsDatabase.connect(ref)
  }
  throw new DqError(
    'config',
    `--db "${ref.replace(/:[^:@/]*@/, ':***@')}" is not a database reference: use postgres://user@host:5432/db, pglite:memory or pglite:DIR`,
  )
}
