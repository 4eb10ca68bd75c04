/**
 * The notify step of a run, the one entry point the CLI, the HTTP API and the
 * Worker call after `runChecks`:
 *
 * 1. read the alert state of the run's checks (and, for scheduled runs, the
 *    monitor's heartbeat), decide (alerts/policy), render (alerts/slack/message);
 * 2. write the new state, the messages (outbox, tied to the run) and the
 *    heartbeat in one transaction, before anything is sent; a concurrent run
 *    that moved the same keys makes it read and decide again;
 * 3. deliver pending messages oldest first, this run's and those left by
 *    earlier runs, at most one per second; each is marked sent only when Slack
 *    answers 200, kept pending on 5xx, 429, timeouts and network errors, and
 *    marked failed with Slack's error on 400/403/404/410.
 *
 * It never throws and never changes the run: problems come back in
 * `problems` for the caller to print or log. Everything outside is injectable
 * (webhook URLs, fetch, clock, sleep) for tests. A scheduled tick where no
 * check is due calls `recordHeartbeat` instead: the heartbeat alone.
 *
 * @example
 * ```ts
 * const run = await runChecks(db, checks, { trigger: 'cron' })
 * const notified = await notifyRun(db, run, checks, {
 *   webhooks: { default: env.SLACK_WEBHOOK_URL }, databaseLabel: 'prod',
 *   heartbeat: { cron: '0 * * * *' },
 * })
 * notified.delivered // [{ id: 7, status: 'sent', attempts: 1, http_status: 200 }]
 * ```
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { messageOf } from '../../checks/errors.ts'
import type { CheckResult, RunTrigger } from '../../checks/result.ts'
import type { RunOutcome } from '../../checks/run-checks.ts'
import type { Database } from '../../db/database.ts'
import { type Webhooks, webhookFor } from '../config/index.ts'
import { cronHeartbeat } from '../heartbeat/index.ts'
import { type Alert, decideAlerts, dedupKey, STALE_KEY } from '../policy/index.ts'
import {
  DEFAULT_DELIVERY,
  type DeliveryPolicy,
  type FetchFunction,
  realSleep,
  type Sleep,
  sendToSlack,
} from '../slack/deliver/index.ts'
import { type RenderedMessage, renderMessages } from '../slack/message/index.ts'
import { errorText } from '../slack/text/index.ts'
import {
  type AlertBatch,
  type MonitorStatus,
  type OutboxStatus,
  parseRecordHeartbeat,
  type Route,
} from '../store/index.ts'

export type NotifyOptions = {
  /** Where to post; undefined turns alerts off (a scheduled run still leaves its heartbeat). */
  webhooks: Webhooks | undefined
  /** How messages name the database (alerts/config `databaseLabel`): never a connection string. */
  databaseLabel: string
  /** Scheduled runs: the cron expression that fired, for the monitor's own staleness. */
  heartbeat?: { cron: string }
  fetch?: FetchFunction
  /** Pacing and delivery timestamps; the policy's clock is the run's started_at. */
  now?: () => Date
  sleep?: Sleep
  delivery?: Partial<DeliveryPolicy>
  /** Messages sent per run at most, oldest first (bounds a run after a long Slack outage). Default 10. */
  maxMessages?: number
}

export type AlertSummary = Pick<Alert, 'dedup_key' | 'check' | 'transition' | 'status' | 'route'>

export type DeliveryReport = {
  id: number
  run_id: string
  route: Route
  /** After this run: sent, pending (retried by a later run) or failed (Slack refused it for good). */
  status: OutboxStatus
  attempts: number
  http_status: number | null
  error?: string
  /**
   * Set when the outbox row was no longer this run's to mark: its lease ran
   * out mid-send and another run settled it (possibly sending it too).
   */
  lease_lost?: true
}

export type NotifyOutcome = {
  /** The alerts this run decided (empty when nothing changed). */
  alerts: AlertSummary[]
  /** The messages written to the outbox for this run. */
  messages: (RenderedMessage & { id: number })[]
  /** Every message this run tried to send, its own and older pending ones, oldest first. */
  delivered: DeliveryReport[]
  /** Scheduled runs: the monitor's heartbeat before this run (stale: it was down). */
  monitor?: MonitorStatus
  /** Why nothing was decided: the run was not recorded (a tick delivered twice, or history failed). */
  skipped?: string
  /** What went wrong, fit to print: nothing here ever changes the run's results or exit code. */
  problems: string[]
}

const MAX_DECIDE_TRIES = 3
const PACE_MS = 1_000

export type Plan = {
  alerts: Alert[]
  messages: RenderedMessage[]
  batch: AlertBatch
  monitor?: MonitorStatus
}

/** Reads state and decides, writing nothing: what a run would send (notify, demo, preview). */
export async function planRun(
  db: Database,
  run: Pick<RunOutcome, 'run_id' | 'trigger' | 'started_at' | 'results'>,
  checks: readonly ResolvedCheck[],
  options: Pick<NotifyOptions, 'databaseLabel' | 'heartbeat'> & {
    /** SLACK_WEBHOOK_URL_CRITICAL is set: critical checks get their own message. */
    criticalRoute: boolean
    /** Decide as if nothing had been told yet (preview --all). */
    ignoreState?: boolean
  },
): Promise<Plan> {
  const at = new Date(run.started_at)
  const heartbeat = options.heartbeat && cronHeartbeat(options.heartbeat.cron, at)
  const keys = [
    ...checks.flatMap((c) => [dedupKey(c.name, 'threshold'), dedupKey(c.name, 'error')]),
    STALE_KEY,
  ]
  const states = options.ignoreState ? [] : await db.alertStates(keys)
  const monitor = heartbeat
    ? await db.monitorStatus({ asOf: run.started_at, excludeRun: run.run_id })
    : undefined
  const decision = decideAlerts({
    results: run.results,
    checks,
    states,
    at,
    criticalRoute: options.criticalRoute,
    ...(monitor ? { monitor } : {}),
  })
  const messages = renderMessages(decision.alerts, {
    run_id: run.run_id,
    trigger: run.trigger,
    started_at: run.started_at,
    database: options.databaseLabel,
    checks,
  })
  const batch: AlertBatch = {
    run_id: run.run_id,
    states: decision.states,
    messages: messages.map(({ route, payload, alerts }) => ({ route, payload, alerts })),
    ...(heartbeat ? { heartbeat } : {}),
  }
  return { alerts: decision.alerts, messages, batch, ...(monitor ? { monitor } : {}) }
}

export async function notifyRun(
  db: Database,
  run: RunOutcome,
  checks: readonly ResolvedCheck[],
  options: NotifyOptions,
): Promise<NotifyOutcome> {
  const outcome: NotifyOutcome = { alerts: [], messages: [], delivered: [], problems: [] }
  if (!run.recorded) {
    // Alerts are tied to a recorded run: a tick delivered twice must not alert twice.
    outcome.skipped = run.recordError
      ? 'the run was not recorded in history, and alerts are tied to a recorded run'
      : 'this run was already recorded (the same cron tick delivered twice)'
    return outcome
  }
  try {
    const enqueued = await enqueueRun(db, run, checks, options)
    if (enqueued) {
      outcome.alerts = enqueued.plan.alerts.map(summary)
      outcome.messages = enqueued.plan.messages.map((m, i) => ({ ...m, id: enqueued.ids[i] ?? 0 }))
      if (enqueued.plan.monitor) outcome.monitor = enqueued.plan.monitor
      if (enqueued.plan.monitor?.stale) outcome.problems.push(downProblem(enqueued.plan.monitor))
    }
  } catch (error) {
    outcome.problems.push(`alerts not queued: ${errorText(messageOf(error))}`)
  }
  if (!options.webhooks) return outcome
  try {
    outcome.delivered = await deliverPending(db, options.webhooks, options)
  } catch (error) {
    outcome.problems.push(
      `delivery stopped: ${errorText(messageOf(error))} (unsent messages stay in the outbox)`,
    )
  }
  for (const report of outcome.delivered) {
    if (report.status === 'pending') {
      outcome.problems.push(
        `Slack message ${report.id} not sent yet: ${report.error} (kept in the outbox; the next run retries it)`,
      )
    } else if (report.status === 'failed') {
      outcome.problems.push(`Slack refused message ${report.id}: ${report.error}`)
    }
    if (report.lease_lost) {
      outcome.problems.push(
        `Slack message ${report.id}: another run settled it while this run was sending (this run's lease on it ran out), so this run's outcome (${report.status}) was not recorded: it may have been posted twice`,
      )
    }
  }
  return outcome
}

function downProblem(monitor: MonitorStatus): string {
  return `the monitor was down: no scheduled run completed since ${monitor.last_run_at} (two scheduled ticks in a row were missed)`
}

export type HeartbeatOutcome = {
  /** False: the cron is empty or invalid, a newer beat is there, or the monitor was down (see problems). */
  recorded: boolean
  /** The heartbeat before this tick, at this tick (undefined when nothing was asked). */
  monitor?: MonitorStatus
  /** What went wrong, fit to log; never thrown. */
  problems: string[]
}

/**
 * A scheduled tick where no check is due (a trigger finer than every check's
 * schedule): writes only the monitor's heartbeat, with no run, so the next run
 * with checks due does not take the quiet ticks for an outage.
 *
 * When the monitor is already stale at this tick, nothing is written: the
 * gap stays for the next run with checks due to announce on Slack (and
 * `/health?deep=1` stays 503 until then), rather than vanishing under this
 * beat. Never throws: problems come back in `problems`.
 *
 * @example
 * ```ts
 * // Worker, scheduled(), when dueChecks(...) is empty:
 * const beat = await recordHeartbeat(db, { cron: controller.cron, at })
 * for (const problem of beat.problems) console.error(`dq-monitor: ${problem}`)
 * ```
 */
export async function recordHeartbeat(
  db: Database,
  tick: { cron: string; at: Date },
): Promise<HeartbeatOutcome> {
  const heartbeat = cronHeartbeat(tick.cron, tick.at)
  if (!heartbeat) return { recorded: false, problems: [] } // a hand-made event: no schedule to keep
  try {
    const { recorded, monitor } = parseRecordHeartbeat(
      await db.call('record_heartbeat', { heartbeat }),
    )
    return {
      recorded,
      monitor,
      problems: monitor.stale
        ? [`${downProblem(monitor)}; the next run with checks due announces it`]
        : [],
    }
  } catch (error) {
    return {
      recorded: false,
      problems: [`heartbeat not recorded: ${errorText(messageOf(error))}`],
    }
  }
}

async function enqueueRun(
  db: Database,
  run: RunOutcome,
  checks: readonly ResolvedCheck[],
  options: NotifyOptions,
): Promise<{ plan: Plan; ids: number[] } | undefined> {
  for (let attempt = 1; attempt <= MAX_DECIDE_TRIES; attempt++) {
    const plan = await planRun(db, run, checks, {
      ...options,
      criticalRoute: Boolean(options.webhooks?.critical),
    })
    // Alerts off: only the heartbeat is kept (state stays what on-call was last told).
    const batch: AlertBatch = options.webhooks
      ? plan.batch
      : { ...plan.batch, states: [], messages: [] }
    if (!options.webhooks) {
      plan.alerts = []
      plan.messages = []
    }
    if (batch.states.length === 0 && batch.messages.length === 0 && !batch.heartbeat)
      return undefined
    const result = await db.enqueueAlerts(batch)
    if (!result.conflict) return { plan, ids: result.ids }
  }
  throw new Error(
    `another run kept changing the same alert state (${MAX_DECIDE_TRIES} tries); this run's alerts were not queued`,
  )
}

function summary(alert: Alert): AlertSummary {
  const { dedup_key, check, transition, status, route } = alert
  return { dedup_key, check, transition, status, route }
}

/** Long enough for one message's every attempt and wait: no other run sends it meanwhile. */
function leaseSeconds(policy: DeliveryPolicy): number {
  const worst =
    policy.maxAttempts * policy.timeoutMs +
    (policy.maxAttempts - 1) * Math.max(policy.maxRetryAfterMs, policy.maxBackoffMs)
  return Math.ceil(worst / 1000) + 60
}

/**
 * Sends pending outbox messages, oldest first, at most one per second, until
 * none is left, `maxMessages` were tried, or one stays pending (Slack is
 * struggling: later ones wait their turn on the next run).
 */
export async function deliverPending(
  db: Database,
  webhooks: Webhooks,
  options: Pick<NotifyOptions, 'fetch' | 'now' | 'sleep' | 'delivery' | 'maxMessages'> = {},
): Promise<DeliveryReport[]> {
  const policy = { ...DEFAULT_DELIVERY, ...options.delivery }
  const now = options.now ?? (() => new Date())
  const sleep = options.sleep ?? realSleep
  const reports: DeliveryReport[] = []
  let lastSent: number | undefined
  for (let i = 0; i < (options.maxMessages ?? 10); i++) {
    const [message] = await db.pendingAlerts({ limit: 1, leaseSeconds: leaseSeconds(policy) })
    if (!message) break
    if (lastSent !== undefined) {
      const wait = lastSent + PACE_MS - now().getTime()
      if (wait > 0) await sleep(wait)
    }
    const result = await sendToSlack(webhookFor(webhooks, message.route), message.payload, {
      ...(options.fetch ? { fetch: options.fetch } : {}),
      sleep,
      now,
      policy,
    })
    lastSent = now().getTime()
    const status: OutboxStatus = result.ok ? 'sent' : result.retryable ? 'pending' : 'failed'
    const marked = await db.markAlert(message.id, {
      status,
      attempts: result.attempts,
      httpStatus: result.httpStatus,
      error: result.ok ? null : result.error,
    })
    reports.push({
      id: message.id,
      run_id: message.run_id,
      route: message.route,
      status,
      attempts: result.attempts,
      http_status: result.httpStatus,
      ...(result.ok ? {} : { error: result.error }),
      ...(marked.updated ? {} : { lease_lost: true as const }),
    })
    if (status === 'pending') break
  }
  return reports
}

/**
 * What `dq alerts preview` shows: the message the latest recorded results
 * would produce now (nothing already told is repeated), or, with `all`, every
 * non-passing check as if it were new. Writes nothing and sends nothing.
 */
export async function previewAlerts(
  db: Database,
  checks: readonly ResolvedCheck[],
  options: { databaseLabel: string; criticalRoute?: boolean; all?: boolean; at?: Date },
): Promise<Plan & { latest: number }> {
  const latest = await db.latestResults(checks.map((c) => c.name))
  const results: CheckResult[] = []
  let newest: { run_id: string; trigger: RunTrigger; started_at: string } | undefined
  for (const check of checks) {
    const entry = latest[check.name]
    if (!entry) continue
    const { run_id, trigger, started_at, ...result } = entry
    results.push(result)
    if (!newest || started_at > newest.started_at) newest = { run_id, trigger, started_at }
  }
  const at = options.at ?? new Date()
  const plan = await planRun(
    db,
    {
      run_id: newest?.run_id ?? '(no run recorded)',
      trigger: newest?.trigger ?? 'cli',
      started_at: at.toISOString(),
      results,
    },
    checks,
    {
      criticalRoute: options.criticalRoute ?? false,
      databaseLabel: options.databaseLabel,
      ignoreState: options.all ?? false,
    },
  )
  return { ...plan, latest: results.length }
}

/** The outcome as JSON for `dq run --json` and HTTP responses (under "notify"): no payloads, no URLs. */
export function notifySummary(outcome: NotifyOutcome) {
  return {
    alerts: outcome.alerts,
    messages: outcome.messages.map(({ id, route, payload, alerts }) => ({
      id,
      route,
      text: payload.text,
      alerts,
    })),
    delivered: outcome.delivered,
    ...(outcome.monitor ? { monitor: outcome.monitor } : {}),
    ...(outcome.skipped ? { skipped: outcome.skipped } : {}),
    problems: outcome.problems,
  }
}
