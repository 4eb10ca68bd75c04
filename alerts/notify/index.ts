/**
 * The notify step of a run, the one entry point the CLI, the HTTP API and the
 * Worker call after `runChecks`:
 *
 * 1. plan (alerts/plan): read the alert state of the run's checks (and, for
 *    scheduled runs, the monitor's heartbeat), decide, render;
 * 2. enqueue (alerts/outbox): write the new state, the messages and the
 *    heartbeat in one transaction, before anything is sent; a concurrent run
 *    that moved the same keys makes it read and decide again;
 * 3. deliver (alerts/outbox): pending messages oldest first, this run's and
 *    those left by earlier runs.
 *
 * It never throws and never changes the run: problems come back in
 * `problems` for the caller to print or log. Everything outside is injectable
 * (webhook URLs, fetch, clock, sleep) for tests.
 *
 * @example
 * ```ts
 * const run = await runChecks(port, checks, { trigger: 'cron' })
 * const notified = await notifyRun(port, run, checks, {
 *   webhooks: { default: env.SLACK_WEBHOOK_URL }, databaseLabel: 'prod',
 *   heartbeat: { cron: '0 * * * *' },
 * })
 * notified.delivered // [{ id: 7, status: 'sent', attempts: 1, http_status: 200 }]
 * ```
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import type { RunOutcome } from '../../checks/run-checks.ts'
import { messageOf } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import type { Webhooks } from '../config/index.ts'
import { downProblem } from '../heartbeat/index.ts'
import {
  type DeliveryOptions,
  type DeliveryReport,
  deliverPending,
  enqueuePlan,
} from '../outbox/index.ts'
import { planRun } from '../plan/index.ts'
import type { Alert } from '../policy/index.ts'
import type { RenderedMessage } from '../slack/message/index.ts'
import { errorText } from '../slack/text/index.ts'
import { type MonitorStatus, type WaitingAlert, waitingAlerts } from '../store/index.ts'

export type NotifyOptions = DeliveryOptions & {
  /** Where to post; undefined turns alerts off (a scheduled run still leaves its heartbeat). */
  webhooks: Webhooks | undefined
  /** How messages name the database (alerts/config `databaseLabel`): never a connection string. */
  databaseLabel: string
  /** Scheduled runs: the cron expression that fired, for the monitor's own staleness. */
  heartbeat?: { cron: string }
  /** The whole (expanded) catalog, when the run covers it: alerts of removed checks resolve. */
  catalogChecks?: readonly ResolvedCheck[]
}

export type AlertSummary = Pick<Alert, 'dedup_key' | 'check' | 'transition' | 'status' | 'route'>

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

export async function notifyRun(
  port: DatabasePort,
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
    const enqueued = await enqueuePlan(port, async () => {
      const plan = await planRun(port, run, checks, {
        databaseLabel: options.databaseLabel,
        heartbeat: options.heartbeat,
        catalogChecks: options.catalogChecks,
        criticalRoute: Boolean(options.webhooks?.critical),
      })
      // Alerts off: only the heartbeat is kept (state stays what on-call was last told).
      return options.webhooks
        ? plan
        : {
            ...plan,
            alerts: [],
            messages: [],
            batch: { ...plan.batch, states: [], messages: [] },
          }
    })
    if (enqueued) {
      const { plan, ids } = enqueued
      outcome.alerts = plan.alerts.map(summary)
      outcome.messages = plan.messages.map((message, i) => ({ ...message, id: ids[i] as number }))
      if (plan.monitor) outcome.monitor = plan.monitor
      if (plan.monitor?.stale) outcome.problems.push(downProblem(plan.monitor))
    }
  } catch (error) {
    outcome.problems.push(`alerts not queued: ${errorText(messageOf(error))}`)
  }
  if (!options.webhooks) return outcome
  try {
    outcome.delivered = await deliverPending(port, options.webhooks, options)
  } catch (error) {
    outcome.problems.push(
      `delivery stopped: ${errorText(messageOf(error))} (unsent messages stay in the outbox)`,
    )
  }
  outcome.problems.push(...deliveryProblems(outcome.delivered))
  try {
    const tried = new Set(outcome.delivered.map((report) => report.id))
    const waiting = (await waitingAlerts(port)).filter((message) => !tried.has(message.id))
    outcome.problems.push(...waiting.map(waitingProblem))
  } catch (error) {
    outcome.problems.push(
      `could not list the waiting Slack messages: ${errorText(messageOf(error))}`,
    )
  }
  return outcome
}

function waitingProblem(message: WaitingAlert): string {
  return message.reason === 'leased'
    ? `Slack message ${message.id} is held by another run until ${message.until} (it is being sent, or that run died while sending it: then it is sent again after that time, and may be posted twice)`
    : `Slack message ${message.id} waits until ${message.until}: Slack asked to retry later (${message.last_error ?? 'HTTP 429'})`
}

function deliveryProblems(delivered: readonly DeliveryReport[]): string[] {
  const problems: string[] = []
  for (const report of delivered) {
    if (report.status === 'pending') {
      problems.push(
        `Slack message ${report.id} not sent yet: ${report.error} (kept in the outbox; the next run retries it)`,
      )
    } else if (report.status === 'failed') {
      problems.push(`Slack refused message ${report.id}: ${report.error}`)
    }
    if (report.lease_lost) {
      problems.push(
        `Slack message ${report.id}: another run settled it while this run was sending (this run's lease on it ran out), so this run's outcome (${report.status}) was not recorded: it may have been posted twice`,
      )
    }
  }
  return problems
}

function summary(alert: Alert): AlertSummary {
  const { dedup_key, check, transition, status, route } = alert
  return { dedup_key, check, transition, status, route }
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
