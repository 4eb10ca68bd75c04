/**
 * The outbox: a run's messages are written with its alert state in one
 * transaction before anything is sent, then delivered oldest first, at most
 * one per second, each marked sent only when Slack answers 200. A sender
 * leases a message while it sends, so two runs never post it together.
 *
 * @example
 * ```ts
 * const reports = await deliverPending(port, { default: env.SLACK_WEBHOOK_URL })
 * reports[0] // { id: 7, status: 'sent', attempts: 1, http_status: 200, ... }
 * ```
 */
import type { DatabasePort } from '../../kernel/port.ts'
import { type Webhooks, webhookFor } from '../config/index.ts'
import {
  DEFAULT_DELIVERY,
  type DeliveryPolicy,
  type FetchFunction,
  realSleep,
  type Sleep,
  sendToSlack,
} from '../slack/deliver/index.ts'
import {
  type AlertBatch,
  enqueueAlerts,
  markAlert,
  type OutboxStatus,
  pendingAlerts,
  type Route,
} from '../store/index.ts'

export type DeliveryOptions = {
  fetch?: FetchFunction
  /** Pacing and delivery timestamps. */
  now?: () => Date
  sleep?: Sleep
  delivery?: Partial<DeliveryPolicy>
  /** Messages sent per run at most, oldest first (bounds a run after a long Slack outage). Default 10. */
  maxMessages?: number
}

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

const MAX_DECIDE_TRIES = 3
const PACE_MS = 1_000

/**
 * Writes a plan's batch, deciding again (`decide`) when a concurrent run
 * moved the same alert keys since they were read. The outbox ids of the
 * messages written, in order; undefined when there was nothing to write.
 */
export async function enqueuePlan<P extends { batch: AlertBatch }>(
  port: DatabasePort,
  decide: () => Promise<P>,
): Promise<{ plan: P; ids: number[] } | undefined> {
  for (let attempt = 1; attempt <= MAX_DECIDE_TRIES; attempt++) {
    const plan = await decide()
    const { batch } = plan
    if (batch.states.length === 0 && batch.messages.length === 0 && !batch.heartbeat) {
      return undefined
    }
    const result = await enqueueAlerts(port, batch)
    if (!result.conflict) {
      if (result.ids.length !== batch.messages.length) {
        throw new Error(
          `the outbox kept ${result.ids.length} of ${batch.messages.length} messages (is the dq migration up to date? run "dq migrate")`,
        )
      }
      return { plan, ids: result.ids }
    }
  }
  throw new Error(
    `another run kept changing the same alert state (${MAX_DECIDE_TRIES} tries); this run's alerts were not queued`,
  )
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
  port: DatabasePort,
  webhooks: Webhooks,
  options: DeliveryOptions = {},
): Promise<DeliveryReport[]> {
  const policy = { ...DEFAULT_DELIVERY, ...options.delivery }
  const now = options.now ?? (() => new Date())
  const sleep = options.sleep ?? realSleep
  const reports: DeliveryReport[] = []
  let lastSent: number | undefined
  for (let i = 0; i < (options.maxMessages ?? 10); i++) {
    const [message] = await pendingAlerts(port, { limit: 1, leaseSeconds: leaseSeconds(policy) })
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
    const marked = await markAlert(port, message.id, {
      status,
      attempts: result.attempts,
      httpStatus: result.httpStatus,
      error: result.ok ? null : result.error,
      ...(!result.ok && result.retryAfterMs !== undefined
        ? { retryAfterMs: result.retryAfterMs }
        : {}),
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
