/**
 * PostgreSQL over a direct connection with postgres.js: `postgres://` URLs
 * from the CLI, and a Hyperdrive binding's connection string in the Worker.
 *
 * @example
 * ```ts
 * const db = PostgresJsDatabase.connect('postgres://dq@db.internal:5432/app')
 * await db.call('check_history', { check_name: 'x', max_results: 5 })
 * await db.close()
 * ```
 */
import postgres, { type Sql } from 'postgres'
import { type CallOptions, type DatabasePort, LOCK_TIMEOUT_MS } from '../kernel/port.ts'
import { safeUrl } from '../kernel/redact.ts'
import { callSql } from './call-sql.ts'
import { databaseError } from './sql-error.ts'

export type PostgresJsOptions = {
  /** Connections in the pool; checks of one run use one at a time. */
  max?: number
  /** Hyperdrive and poolers in transaction mode cannot prepare statements. */
  prepare?: boolean
}

export class PostgresJsDatabase implements DatabasePort {
  readonly label: string
  readonly sql: Sql

  private constructor(sql: Sql, label: string) {
    this.sql = sql
    this.label = label
  }

  static connect(url: string, options: PostgresJsOptions = {}): PostgresJsDatabase {
    const sql = postgres(url, {
      max: options.max ?? 2,
      prepare: options.prepare ?? true,
      onnotice: () => {},
      connection: { application_name: 'dq-monitor' },
    })
    return new PostgresJsDatabase(sql, safeUrl(url))
  }

  async migrate(): Promise<void> {
    // Imported here: it reads files with node:fs, which the Worker bundle must not evaluate.
    const { loadMigrations, MIGRATION_LOCK_KEY } = await import('./migrations.ts')
    const migrations = await loadMigrations()
    await this.guard(() =>
      this.sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
        for (const migration of migrations) await tx.unsafe(migration.sql)
      }),
    )
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 })
  }

  async call(
    fn: string,
    args: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<unknown> {
    const { text, values } = callSql(fn, args)
    const { readOnly } = options
    const rows = await this.guard(async () => {
      if (!readOnly) return this.sql.unsafe(text, values as never[])
      // READ ONLY transaction + timeouts: a check can never write, nor hang a run.
      return this.sql.begin('read only', async (tx) => {
        await tx`select set_config('statement_timeout', ${String(Math.round(readOnly.timeoutSeconds * 1000))}, true),
                        set_config('lock_timeout', ${String(LOCK_TIMEOUT_MS)}, true)`
        return tx.unsafe(text, values as never[])
      })
    })
    return rows[0]?.result
  }

  private async guard<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query()
    } catch (error) {
      throw databaseError(error)
    }
  }
}
