/**
 * The runner: runs checks one after another, turns each measurement into a
 * status, isolates failures (a check that cannot run is `error` with the
 * database's message and an error code; the others still run) and records
 * the run in history.
 *
 * @example
 * ```ts
 * const run = await runChecks(port, catalog.checks, {
 *   trigger: 'cli',
 *   onResult: (r) => console.error(r.check, r.status),
 * })
 * ```
 */
import { codeOf, DATABASE_UNAVAILABLE, type ErrorCode, messageOf } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { redactSecrets } from '../kernel/redact.ts'
import { judge } from './anomaly.ts'
import type { ResolvedCheck } from './catalog.ts'
import type { CheckResult, RunResult, RunTrigger } from './result.ts'
import { claimRun, measureCheck, recordRun, type ScanScope } from './store.ts'

/**
 * A check already running elsewhere (another request, an overlapping cron
 * run): 'reject' throws DqError('check_running') (HTTP 409); 'error' (the
 * default) reports that check as an error (error_code "check_running") and
 * runs the others.
 */
export type SingleFlight = 'reject' | 'error'

export type RunOptions = {
  trigger: RunTrigger
  /** Called as each check finishes (progress). */
  onResult?: (result: CheckResult, index: number, total: number) => void
  /**
   * The scheduled tick, for runs that must happen once: the tick is claimed
   * in history before any check runs, and a second delivery runs nothing.
   */
  idempotencyKey?: string
  singleFlight?: SingleFlight
  /** 'changed': answer checks whose tables did not change from their last full scan (cron ticks). */
  scan?: ScanScope
  /** Skip writing to history (e.g. `dq validate`); default true. */
  record?: boolean
  now?: () => Date
}

export type RunOutcome = RunResult & {
  /** False when the idempotency key was already recorded, or recording failed. */
  recorded: boolean
  /** Another delivery of the same tick has it: no check ran. */
  duplicate?: boolean
  /** Why the run could not be written to history, when it could not. */
  recordError?: string
  /** That error's code (`unavailable`, `connection_lost`: the database went away; HTTP hides the details). */
  recordErrorCode?: ErrorCode
}

/**
 * Why a run was not recorded, fit to show its caller (`shown`), and for the
 * service logs (`logged`) when the database went away: those errors name
 * hosts, ports and driver text.
 */
export function unrecordedReason(run: RunOutcome): { shown: string; logged?: string } {
  const reason = redactSecrets(run.recordError ?? 'unknown reason')
  if (run.recordErrorCode === 'unavailable' || run.recordErrorCode === 'connection_lost') {
    return { shown: DATABASE_UNAVAILABLE, logged: reason }
  }
  return { shown: reason }
}

/** Errors of the database as a whole, never of one check: they end the run (thrown). */
const DATABASE_WIDE = new Set<ErrorCode>(['unavailable', 'not_migrated'])

/**
 * Runs one check and never throws (but for 'reject', and for the database
 * as a whole: unavailable, not migrated): a failure becomes an `error` result.
 */
export async function runCheck(
  port: DatabasePort,
  check: ResolvedCheck,
  options: { singleFlight?: SingleFlight; scan?: ScanScope } = {},
): Promise<CheckResult> {
  const started = performance.now()
  const base = {
    check: check.name,
    kind: check.kind,
    severity: check.severity,
    owner: check.owner ?? null,
    threshold: check.threshold,
  }
  if (check.generated?.error) {
    // A generated check its row could not make: said, never sent to the database.
    return {
      ...base,
      status: 'error',
      value: null,
      details: {},
      sample: [],
      duration_ms: 0,
      error: check.generated.error,
      error_code: 'invalid_catalog',
    }
  }
  try {
    const measurement = await measureCheck(port, check, {
      timeoutSeconds: check.timeoutSeconds,
      ...(options.scan ? { scan: options.scan } : {}),
    })
    // The kind's own verdict or the threshold's, and with `anomaly` the worse of it and history's.
    const { status, details } = await judge(port, check, measurement)
    return {
      ...base,
      status,
      value: measurement.value,
      details,
      sample: measurement.sample,
      duration_ms: elapsed(started),
      error: null,
      error_code: null,
    }
  } catch (error) {
    if (options.singleFlight === 'reject' && codeOf(error) === 'check_running') throw error
    // No check can run on a database that cannot be reached or lacks the dq schema: one
    // error for the run, not the same one per check.
    if (DATABASE_WIDE.has(codeOf(error) ?? 'internal')) throw error
    return {
      ...base,
      status: 'error',
      value: null,
      details: {},
      sample: [],
      duration_ms: elapsed(started),
      error: messageOf(error),
      error_code: codeOf(error) ?? 'internal',
    }
  }
}

export async function runChecks(
  port: DatabasePort,
  checks: readonly ResolvedCheck[],
  options: RunOptions,
): Promise<RunOutcome> {
  const now = options.now ?? (() => new Date())
  const startedAt = now().toISOString()
  const started = performance.now()
  const runId = crypto.randomUUID()
  const record = options.record ?? true
  if (options.idempotencyKey && record) {
    const claimed = await claim(port, {
      run_id: runId,
      trigger: options.trigger,
      started_at: startedAt,
      idempotency_key: options.idempotencyKey,
    })
    if (!claimed) {
      return {
        run_id: runId,
        trigger: options.trigger,
        started_at: startedAt,
        duration_ms: elapsed(started),
        results: [],
        recorded: false,
        duplicate: true,
      }
    }
  }
  const results: CheckResult[] = []
  for (const [index, check] of checks.entries()) {
    const result = await runCheck(port, check, {
      singleFlight: options.singleFlight ?? 'error',
      ...(options.scan ? { scan: options.scan } : {}),
    })
    results.push(result)
    options.onResult?.(result, index, checks.length)
  }
  const run: RunResult = {
    run_id: runId,
    trigger: options.trigger,
    started_at: startedAt,
    duration_ms: elapsed(started),
    results,
  }
  if (!record) return { ...run, recorded: false }
  try {
    const recorded = await recordRun(port, {
      ...run,
      ...(options.idempotencyKey ? { idempotency_key: options.idempotencyKey } : {}),
    })
    return { ...run, duration_ms: elapsed(started), recorded }
  } catch (error) {
    // The results are still returned and printed: a history failure must not hide them.
    return {
      ...run,
      duration_ms: elapsed(started),
      recorded: false,
      recordError: messageOf(error),
      recordErrorCode: codeOf(error) ?? 'internal',
    }
  }
}

/**
 * Claims the tick; when the claim itself fails (a database from before
 * dq.claim_run, say) the run goes ahead and recording still keeps it once.
 */
async function claim(port: DatabasePort, run: Parameters<typeof claimRun>[1]): Promise<boolean> {
  try {
    return await claimRun(port, run)
  } catch {
    return true
  }
}

function elapsed(started: number): number {
  return Math.max(0, Math.round(performance.now() - started))
}

/** The result contract alone, without the outcome's bookkeeping (what HTTP and --json return). */
export function runResultOf(outcome: RunOutcome): RunResult {
  const {
    recorded: _recorded,
    recordError: _recordError,
    recordErrorCode: _recordErrorCode,
    duplicate: _duplicate,
    ...run
  } = outcome
  return run
}
