/**
 * The database port: everything dq-monitor asks of a database. One adapter per
 * way to reach PostgreSQL (embedded PGlite, postgres.js, supabase-js). An
 * adapter implements one primitive, `call`: run a `dq.*` SQL function with
 * named arguments and return its jsonb result. Everything else is built on it
 * here, once, so a check behaves identically everywhere and a new `dq`
 * function needs no per-adapter code.
 *
 * @example
 * ```ts
 * const db = await openDatabase('pglite:memory')
 * await db.migrate()
 * const measurement = await db.runCheck(check, { timeoutSeconds: 60 })
 * await db.close()
 * ```
 */
import {
  type AlertBatch,
  type AlertState,
  type EnqueueResult,
  type MonitorStatus,
  type OutboxMessage,
  parseAlertStates,
  parseEnqueueResult,
  parseMarkResult,
  parseMonitorStatus,
  parseOutbox,
} from '../alerts/store/index.ts'
import type { CheckSpec } from '../checks/catalog.ts'
import { DqError } from '../checks/errors.ts'
import type { HistoryEntry, Measurement, RunResult } from '../checks/result.ts'
import { parseHistory, parseLatest, parseMeasurement } from './results.ts'

export type RunRecord = RunResult & {
  /** The scheduled tick's time: a tick delivered twice records one run. */
  idempotency_key?: string
}

export type RunClaim = Pick<RunResult, 'run_id' | 'trigger' | 'started_at'> & {
  idempotency_key: string
}

/** How one outbox message's send ended: sent (Slack said 200), pending (retry later) or failed. */
export type SendOutcome = {
  status: 'sent' | 'pending' | 'failed'
  attempts: number
  httpStatus?: number | null
  error?: string | null
}

export type CallOptions = {
  /**
   * Runs the call in its own READ ONLY transaction with this statement
   * timeout (and LOCK_TIMEOUT_MS): how every check runs. Through PostgREST the
   * function's volatility (STABLE) makes the transaction read-only instead.
   */
  readOnly?: { timeoutSeconds: number }
}

export interface Database {
  /** Where this points, safe to print (never a password). */
  readonly label: string
  /**
   * The port's one primitive: `select dq.<fn>(name => value, ...)`, returning
   * the function's (jsonb) result. Errors are DqError values (db/sql-error.ts).
   */
  call(fn: string, args: Record<string, unknown>, options?: CallOptions): Promise<unknown>
  /** Runs one check in its own READ ONLY transaction with a statement timeout. */
  runCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement>
  /** Plans a check's queries without reading user rows (`dq validate --db`). */
  validateCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<void>
  /**
   * The indexes an incremental check needs (value: how many are missing;
   * details.indexes; sample: the CREATE INDEX to run). Reads no rows.
   */
  indexAdvice(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement>
  /** Stores a run and its results; false when its idempotency key was already recorded. */
  recordRun(run: RunRecord): Promise<{ recorded: boolean }>
  /**
   * Claims a scheduled tick before its checks run (its idempotency key); false
   * when another delivery of the tick has it. `recordRun` completes the claim.
   */
  claimRun(run: RunClaim): Promise<{ claimed: boolean }>
  /** A check's results, newest first. */
  history(check: string, limit: number): Promise<HistoryEntry[]>
  /** The latest result of each named check (all when omitted), by check name. */
  latestResults(checks?: readonly string[]): Promise<Record<string, HistoryEntry>>
  /** Alert state by dedup key (all keys when omitted): what on-call was last told. */
  alertStates(keys?: readonly string[]): Promise<AlertState[]>
  /**
   * Writes one run's alert decision atomically (state, outbox messages,
   * heartbeat); `conflict` when a key moved since it was read (nothing written).
   */
  enqueueAlerts(batch: AlertBatch): Promise<EnqueueResult>
  /** Pending outbox messages, oldest first; leased for `leaseSeconds` when > 0. */
  pendingAlerts(options?: { limit?: number; leaseSeconds?: number }): Promise<OutboxMessage[]>
  /** Records a send: sent (Slack said 200), pending (retry later) or failed (for good). */
  markAlert(id: number, outcome: SendOutcome): Promise<{ updated: boolean }>
  /** The last scheduled run's heartbeat and whether the monitor is stale at `asOf` (default now). */
  monitorStatus(options?: { asOf?: string; excludeRun?: string }): Promise<MonitorStatus>
  /** Applies supabase/migrations (idempotent). */
  migrate(): Promise<void>
  close(): Promise<void>
}

/** Lock timeout for checks: a check waits this long at most for a table lock. */
export const LOCK_TIMEOUT_MS = 5_000

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

/**
 * `dq.fn(a => $1, b => $2)` for the direct adapters. Function and argument
 * names come from our own code, never from users; they are still checked so
 * nothing but an identifier can reach the SQL text.
 */
export function callSql(
  fn: string,
  args: Record<string, unknown>,
): { text: string; values: unknown[] } {
  const names = Object.keys(args)
  for (const name of [fn, ...names]) {
    if (!IDENTIFIER.test(name))
      throw new DqError('internal', `not a dq function or argument name: "${name}"`)
  }
  const list = names.map((name, index) => `${name} => $${index + 1}`).join(', ')
  return {
    text: `select dq.${fn}(${list}) as result`,
    values: names.map((name) => args[name] ?? null),
  }
}

/** The `dq.*` calls, written once on top of an adapter's `call`. */
export abstract class DqDatabase implements Database {
  abstract readonly label: string
  abstract call(fn: string, args: Record<string, unknown>, options?: CallOptions): Promise<unknown>
  abstract migrate(): Promise<void>
  abstract close(): Promise<void>

  async runCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement> {
    return parseMeasurement(await this.call('run_check', { spec }, { readOnly: options }))
  }

  async validateCheck(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<void> {
    await this.call('validate_check', { spec }, { readOnly: options })
  }

  async indexAdvice(spec: CheckSpec, options: { timeoutSeconds: number }): Promise<Measurement> {
    return parseMeasurement(await this.call('index_advice', { spec }, { readOnly: options }))
  }

  async claimRun(run: RunClaim): Promise<{ claimed: boolean }> {
    const result = await this.call('claim_run', { run })
    return { claimed: Boolean((result as { claimed?: boolean } | null)?.claimed) }
  }

  async recordRun(run: RunRecord): Promise<{ recorded: boolean }> {
    const result = await this.call('record_run', { run })
    return { recorded: Boolean((result as { recorded?: boolean } | null)?.recorded) }
  }

  async history(check: string, limit: number): Promise<HistoryEntry[]> {
    return parseHistory(await this.call('check_history', { check_name: check, max_results: limit }))
  }

  async latestResults(checks?: readonly string[]): Promise<Record<string, HistoryEntry>> {
    return parseLatest(
      await this.call('latest_results', { check_names: checks ? [...checks] : null }),
    )
  }

  async alertStates(keys?: readonly string[]): Promise<AlertState[]> {
    return parseAlertStates(
      await this.call('alert_states', { dedup_keys: keys ? [...keys] : null }),
    )
  }

  async enqueueAlerts(batch: AlertBatch): Promise<EnqueueResult> {
    return parseEnqueueResult(await this.call('enqueue_alerts', { batch }))
  }

  async pendingAlerts(
    options: { limit?: number; leaseSeconds?: number } = {},
  ): Promise<OutboxMessage[]> {
    return parseOutbox(
      await this.call('pending_alerts', {
        max_messages: options.limit ?? 10,
        lease_seconds: options.leaseSeconds ?? 0,
      }),
    )
  }

  async markAlert(id: number, outcome: SendOutcome): Promise<{ updated: boolean }> {
    return parseMarkResult(
      await this.call('mark_alert', {
        outbox_id: id,
        outcome: outcome.status,
        attempts: outcome.attempts,
        http_status: outcome.httpStatus ?? null,
        error_text: outcome.error ?? null,
      }),
    )
  }

  async monitorStatus(
    options: { asOf?: string; excludeRun?: string } = {},
  ): Promise<MonitorStatus> {
    return parseMonitorStatus(
      await this.call('monitor_status', {
        as_of: options.asOf ?? null,
        exclude_run: options.excludeRun ?? null,
      }),
    )
  }
}
