/**
 * The database port: everything dq-monitor asks of a database. One adapter per
 * way to reach PostgreSQL (embedded PGlite, postgres.js, supabase-js); all of
 * them call the same `dq.*` SQL functions, so a check behaves identically
 * everywhere.
 *
 * @example
 * ```ts
 * const db = await openDatabase('pglite:memory')
 * await db.migrate()
 * const measurement = await db.runCheck(check, { timeoutSeconds: 60 })
 * await db.close()
 * ```
 */
import type { CheckSpec } from '../checks/catalog.ts'
import type { HistoryEntry, Measurement, RunResult } from '../checks/result.ts'

export type RunRecord = RunResult & {
  /** Cron expression + scheduled time: a tick delivered twice records one run. */
  idempotency_key?: string
}

export interface Database {
  /** Where this points, safe to print (never a password). */
  readonly label: string
  /** Runs one check in its own READ ONLY transaction with a statement timeout. */
  runCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement>
  /** Plans a check's queries without reading user rows (`dq validate --db`). */
  validateCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<void>
  /** Stores a run and its results; false when its idempotency key was already recorded. */
  recordRun(run: RunRecord): Promise<{ recorded: boolean }>
  /** A check's results, newest first. */
  history(check: string, limit: number): Promise<HistoryEntry[]>
  /** The latest result of each named check (all when omitted), by check name. */
  latestResults(checks?: readonly string[]): Promise<Record<string, HistoryEntry>>
  /** Applies supabase/migrations (idempotent). */
  migrate(): Promise<void>
  close(): Promise<void>
}

/** Lock timeout for checks: a check waits this long at most for a table lock. */
export const LOCK_TIMEOUT_MS = 5_000
