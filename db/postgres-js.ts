/**
 * PostgreSQL over a direct connection with postgres.js: `postgres://` URLs
 * from the CLI, and a Hyperdrive binding's connection string in the Worker.
 *
 * @example
 * ```ts
 * const db = PostgresJsDatabase.connect('postgres://dq@db.internal:5432/app')
 * const measurement = await db.runCheck(check, { timeoutSeconds: 60 })
 * await db.close()
 * ```
 */
import postgres, { type Sql } from 'postgres'
import type { CheckSpec } from '../checks/catalog.ts'
import type { HistoryEntry, Measurement } from '../checks/result.ts'
import { type Database, LOCK_TIMEOUT_MS, type RunRecord } from './database.ts'
import { loadMigrations, MIGRATION_LOCK_KEY } from './migrations.ts'
import { parseHistory, parseLatest, parseMeasurement } from './results.ts'
import { databaseError } from './sql-error.ts'

export type PostgresJsOptions = {
  /** Connections in the pool; checks of one run use one at a time. */
  max?: number
  /** Hyperdrive and poolers in transaction mode cannot prepare statements. */
  prepare?: boolean
}

export class PostgresJsDatabase implements Database {
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
    return new PostgresJsDatabase(sql, redactUrl(url))
  }

  async runCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement> {
    return parseMeasurement(await this.readOnly('run_check', spec, options.timeoutSeconds))
  }

  async validateCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<void> {
    await this.readOnly('validate_check', spec, options.timeoutSeconds)
  }

  async recordRun(run: RunRecord): Promise<{ recorded: boolean }> {
    const [row] = await this.guard(
      () => this.sql`select dq.record_run(${this.sql.json(run as never)}) as result`,
    )
    return { recorded: Boolean((row?.result as { recorded?: boolean })?.recorded) }
  }

  async history(check: string, limit: number): Promise<HistoryEntry[]> {
    const [row] = await this.guard(
      () => this.sql`select dq.check_history(${check}, ${limit}::int) as result`,
    )
    return parseHistory(row?.result)
  }

  async latestResults(checks?: readonly string[]): Promise<Record<string, HistoryEntry>> {
    const names = checks ? [...checks] : null
    const [row] = await this.guard(
      () => this.sql`select dq.latest_results(${names}::text[]) as result`,
    )
    return parseLatest(row?.result)
  }

  async migrate(): Promise<void> {
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

  // READ ONLY transaction + timeouts: a check can never write, nor hang a run.
  private async readOnly(
    fn: 'run_check' | 'validate_check',
    spec: CheckSpec,
    timeoutSeconds: number,
  ): Promise<unknown> {
    const rows = await this.guard(() =>
      this.sql.begin('read only', async (tx) => {
        await tx`select set_config('statement_timeout', ${String(Math.round(timeoutSeconds * 1000))}, true),
                        set_config('lock_timeout', ${String(LOCK_TIMEOUT_MS)}, true)`
        return tx`select ${tx(`dq.${fn}`)}(${tx.json(spec as never)}) as result`
      }),
    )
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

/** postgres://user:secret@host/db -> postgres://user@host/db */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    parsed.search = ''
    return parsed.toString()
  } catch {
    return 'postgres://(unparsable url)'
  }
}
