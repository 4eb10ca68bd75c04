/**
 * Embedded PostgreSQL (PGlite, PostgreSQL in WebAssembly): the demo database
 * and the zero-setup test database. `pglite:memory` or `pglite:DIR`.
 *
 * @example
 * ```ts
 * const db = await PGliteDatabase.open('memory')
 * await db.migrate()
 * await db.exec(await readFile(SEED_FILE, 'utf8'))
 * await db.call('check_history', { check_name: 'x', max_results: 5 })
 * ```
 */
import { PGlite } from '@electric-sql/pglite'
import {
  CALL_TIMEOUT_SECONDS,
  type CallOptions,
  type DatabasePort,
  LOCK_TIMEOUT_MS,
} from '../kernel/port.ts'
import { callSql } from './call-sql.ts'
import { loadMigrations } from './migrations.ts'
import { databaseError } from './sql-error.ts'

type Row = { result: unknown }

export class PGliteDatabase implements DatabasePort {
  readonly label: string
  readonly pg: PGlite

  private constructor(pg: PGlite, label: string) {
    this.pg = pg
    this.label = label
  }

  /** `location`: "memory" or a directory that keeps the data between runs. */
  static async open(location = 'memory'): Promise<PGliteDatabase> {
    const pg = location === 'memory' ? new PGlite() : new PGlite(location)
    await pg.waitReady
    return new PGliteDatabase(pg, `pglite:${location}`)
  }

  /** Runs SQL text with several statements (a seed file, a fixture). */
  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql)
  }

  async migrate(): Promise<void> {
    const migrations = await loadMigrations()
    // One client, one session: a transaction is enough to make it all-or-nothing.
    await this.pg.transaction(async (tx) => {
      for (const migration of migrations) await tx.exec(migration.sql)
    })
  }

  async close(): Promise<void> {
    if (!this.pg.closed) await this.pg.close()
  }

  async call(
    fn: string,
    args: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<unknown> {
    const { text, values } = callSql(fn, args)
    try {
      const result = await this.pg.transaction(async (tx) => {
        // Timeouts as on a server (PGlite cannot interrupt a running query, so
        // statement_timeout is not enforced here: README "Safety").
        const timeoutMs = Math.round(
          (options.readOnly?.timeoutSeconds ?? options.timeoutSeconds ?? CALL_TIMEOUT_SECONDS) *
            1000,
        )
        await tx.exec(
          `${options.readOnly ? 'set transaction read only;' : ''}
           set local statement_timeout = ${timeoutMs};
           set local lock_timeout = ${LOCK_TIMEOUT_MS};`,
        )
        const result = (await tx.query<Row>(text, values)).rows[0]?.result
        // A check only reads: ROLLBACK undoes anything it might have slipped past READ ONLY.
        if (options.readOnly) await tx.rollback()
        return result
      })
      // Session advisory locks survive a rollback.
      if (options.readOnly) await this.pg.exec('select pg_advisory_unlock_all()')
      return result
    } catch (error) {
      if (options.readOnly) await this.pg.exec('select pg_advisory_unlock_all()').catch(() => {})
      throw databaseError(error)
    }
  }
}
