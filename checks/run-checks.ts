/**
 * The runner: runs checks one after another, turns each measurement into a
 * status, isolates failures (a check that cannot run is `error` with the
 * database's message; the others still run) and records the run in history.
 *
 * @example
 * ```ts
 * const run = await runChecks(db, catalog.checks, {
 *   trigger: 'cli',
 *   onResult: (r) => console.error(r.check, r.status),
 * })
 * ```
 */
import type { Database, RunClaim } from '../db/database.ts'
import type { ResolvedCheck } from './catalog.ts'
import { DqError, messageOf } from './errors.ts'
import type { CheckResult, RunResult, RunTrigger } from './result.ts'
import { evaluateThreshold } from './threshold.ts'

export type RunOptions = {
  trigger: RunTrigger
  /** Called as each check finishes (progress). */
  onResult?: (result: CheckResult, index: number, total: number) => void
  /**
   * The scheduled tick, for runs that must happen once: the tick is claimed
   * in history before any check runs, and a second delivery runs nothing.
   */
  idempotencyKey?: string
  /**
   * A check already running elsewhere (another request, an overlapping cron
   * run): 'reject' throws DqError('check_running') (HTTP 409); 'error' (the
   * default) reports that check as an error and runs the others.
   */
  singleFlight?: 'reject' | 'error'
  /** Skip writing to history (e.g. `dq validate`); default false. */
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
}

/** Runs one check and never throws: a failure becomes an `error` result. */
export async function runCheck(
  db: Database,
  check: ResolvedCheck,
  singleFlight: 'reject' | 'error' = 'error',
): Promise<CheckResult> {
  const started = performance.now()
  const base = { check: check.name, kind: check.kind, threshold: check.threshold }
  try {
    const measurement = await db.runCheck(check, { timeoutSeconds: check.timeoutSeconds })
    return {
      ...base,
      status: evaluateThreshold(check.threshold, measurement),
      value: measurement.value,
      details: measurement.details,
      sample: measurement.sample,
      duration_ms: elapsed(started),
      error: null,
    }
  } catch (error) {
    const running = error instanceof DqError && error.code === 'check_running'
    if (singleFlight === 'reject' && running) throw error
    return {
      ...base,
      status: 'error',
      value: null,
      // "Another run has it" says nothing about the data: alerts/policy leaves its state alone.
      details: running ? { code: 'check_running' } : {},
      sample: [],
      duration_ms: elapsed(started),
      error: messageOf(error),
    }
  }
}

export async function runChecks(
  db: Database,
  checks: readonly ResolvedCheck[],
  options: RunOptions,
): Promise<RunOutcome> {
  const now = options.now ?? (() => new Date())
  const startedAt = now()
  const started = performance.now()
  const runId = crypto.randomUUID()
  if (options.idempotencyKey && options.record !== false) {
    const claimed = await claim(db, {
      run_id: runId,
      trigger: options.trigger,
      started_at: startedAt.toISOString(),
      idempotency_key: options.idempotencyKey,
    })
    if (!claimed) {
      return {
        run_id: runId,
        trigger: options.trigger,
        started_at: startedAt.toISOString(),
        duration_ms: elapsed(started),
        results: [],
        recorded: false,
        duplicate: true,
      }
    }
  }
  const results: CheckResult[] = []
  for (const [index, check] of checks.entries()) {
    const result = await runCheck(db, check, options.singleFlight ?? 'error')
    results.push(result)
    options.onResult?.(result, index, checks.length)
  }
  const run: RunResult = {
    run_id: runId,
    trigger: options.trigger,
    started_at: startedAt.toISOString(),
    duration_ms: elapsed(started),
    results,
  }
  if (options.record === false) return { ...run, recorded: false }
  try {
    const { recorded } = await db.recordRun({
      ...run,
      ...(options.idempotencyKey ? { idempotency_key: options.idempotencyKey } : {}),
    })
    return { ...run, recorded }
  } catch (error) {
    // The results are still returned and printed: a history failure must not hide them.
    return { ...run, recorded: false, recordError: messageOf(error) }
  }
}

/**
 * Claims the tick; when the claim itself fails (a database from before
 * dq.claim_run, say) the run goes ahead and recording still keeps it once.
 */
async function claim(db: Database, run: RunClaim): Promise<boolean> {
  try {
    return (await db.claimRun(run)).claimed
  } catch {
    return true
  }
}

function elapsed(started: number): number {
  return Math.max(0, Math.round(performance.now() - started))
}

/** The result contract alone, without the outcome's bookkeeping (what HTTP and --json return). */
export function runResultOf(outcome: RunOutcome): RunResult {
  const { recorded: _recorded, recordError: _recordError, duplicate: _duplicate, ...run } = outcome
  return run
}
