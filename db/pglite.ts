/**
 * Embedded PostgreSQL (PGlite, PostgreSQL in WebAssembly): the demo database
 * and the zero-setup test database. `pglite:memory` or `pglite:DIR`.
 *
 * @example
 * ```ts
 * const db = await PGliteDatabase.open('memory')
 * await db.migrate()
 * await db.exec(await readFile(SEED_FILE, 'utf8'))
 * ```
 */
import { PGlite } from '@electric-sql/pglite'
import type { CheckSpec } from '../checks/catalog.ts'
import type { HistoryEntry, Measurement } from '../checks/result.ts'
import { type Database, LOCK_TIMEOUT_MS, type RunRecord } from './database.ts'
import { loadMigrations } from './migrations.ts'
import { parseHistory, parseLatest, parseMeasurement } from './results.ts'
import { databaseError } from './sql-error.ts'

type Row = { result: unknown }

export class PGliteDatabase implements Database {
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

  async runCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement> {
    return parseMeasurement(await this.readOnly('dq.run_check', spec, options.timeoutSeconds))
  }

  async validateCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<void> {
    await this.readOnly('dq.validate_check', spec, options.timeoutSeconds)
  }

  async recordRun(run: RunRecord): Promise<{ recorded: boolean }> {
    const { rows } = await this.call<Row>('select dq.record_run($1::jsonb) as result', [
      JSON.stringify(run),
    ])
    return { recorded: Boolean((rows[0]?.result as { recorded?: boolean })?.recorded) }
  }

  async history(check: string, limit: number): Promise<HistoryEntry[]> {
    const { rows } = await this.call<Row>('select dq.check_history($1, $2) as result', [
      check,
      limit,
    ])
    return parseHistory(rows[0]?.result)
  }

  async latestResults(checks?: readonly string[]): Promise<Record<string, HistoryEntry>> {
    const { rows } = await this.call<Row>('select dq.latest_results($1::text[]) as result', [
      checks ?? null,
    ])
    return parseLatest(rows[0]?.result)
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

  // READ ONLY transaction + timeouts: a check can never write, nor hang a run.
  private async readOnly(fn: string, spec: CheckSpec, timeoutSeconds: number): Promise<unknown> {
    try {
      return await this.pg.transaction(async (tx) => {
        await tx.exec(
          `set transaction read only;
           set local statement_timeout = ${Math.round(timeoutSeconds * 1000)};
           set local lock_timeout = ${LOCK_TIMEOUT_MS};`,
        )
        const { rows } = await tx.query<Row>(`select ${fn}($1::jsonb) as result`, [
          JSON.stringify(spec),
        ])
        return rows[0]?.result
      })
    } catch (error) {
      throw databaseError(error)
    }
  }

  private async call<T>(sql: string, params: unknown[]) {
    try {
      return await this.pg.query<T>(sql, params)
    } catch (error) {
      throw databaseError(error)
    }
  }
}
