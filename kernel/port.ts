/**
 * The database port: transport only, as Kysely splits a Driver from its
 * Dialect. An adapter (db/: PGlite, node-postgres, supabase-js) knows how to
 * reach PostgreSQL and run one `dq.*` SQL function; what those calls mean
 * lives beside their callers: checks/store.ts (checks and history) and
 * alerts/store (alert state, outbox, heartbeat).
 *
 * @example
 * ```ts
 * const port: DatabasePort = await openDatabase({ reference: 'pglite:memory' })
 * await port.migrate()
 * await port.call('check_history', { check_name: 'x', max_results: 5 })
 * ```
 */

export type CallOptions = {
  /**
   * Runs the call in its own READ ONLY transaction with this statement
   * timeout (and LOCK_TIMEOUT_MS): how every check runs. Through PostgREST the
   * function's volatility (STABLE) makes the transaction read-only instead.
   */
  readOnly?: { timeoutSeconds: number }
  /** Any other call: give up after this long (history writes, alert state). */
  timeoutSeconds?: number
}

export interface DatabasePort {
  /** Where this points, safe to print (never a password). */
  readonly label: string
  /**
   * `select dq.<fn>(name => value, ...)`, returning the function's (jsonb)
   * result. Errors are DqError values whose message says what to do.
   */
  call(fn: string, args: Record<string, unknown>, options?: CallOptions): Promise<unknown>
  /** Applies supabase/migrations (idempotent). */
  migrate(): Promise<void>
  close(): Promise<void>
}

/** Lock timeout for checks: a check waits this long at most for a table lock. */
export const LOCK_TIMEOUT_MS = 5_000

/** Bound on every call that is not a check (history, alert state, the outbox). */
export const CALL_TIMEOUT_SECONDS = 30
