/**
 * What the alert side asks of the database, on top of the port's `call`:
 * alert state per dedup key, the Slack outbox, the monitor's heartbeat.
 * Replies are validated at the boundary, so a drifted schema fails loudly
 * instead of sending wrong alerts. SQL: supabase/schemas/40_alerts.sql.
 *
 * @example
 * ```ts
 * const states = await alertStates(port, ['orders_dups/threshold'])
 * states[0] // { dedup_key: 'orders_dups/threshold', status: 'fail', version: 3, ... }
 * ```
 */
import type { IncomingWebhookSendArguments } from '@slack/webhook'
import { z } from 'zod'
import { StatusSchema } from '../../checks/result.ts'
import { isoTimestamp, parseReply } from '../../kernel/parse.ts'
import type { DatabasePort } from '../../kernel/port.ts'

/** threshold: pass/warn/fail of a check; error: the check could not run; stale: the monitor was down. */
const AlertKindSchema = z.enum(['threshold', 'error', 'stale'])
export type AlertKind = z.infer<typeof AlertKindSchema>

/** Which webhook a message goes to: SLACK_WEBHOOK_URL, or SLACK_WEBHOOK_URL_CRITICAL. */
const RouteSchema = z.enum(['default', 'critical'])
export type Route = z.infer<typeof RouteSchema>

const timestamp = z.union([z.string(), z.date()]).transform(isoTimestamp)

const AlertStateSchema = z.object({
  dedup_key: z.string(),
  check: z.string().nullable(),
  alert_kind: AlertKindSchema,
  status: StatusSchema,
  opened_at: timestamp.nullable(),
  last_notified_at: timestamp.nullable(),
  observed_at: timestamp,
  run_id: z.string().nullable(),
  version: z.number().int().nonnegative(),
})
export type AlertState = z.infer<typeof AlertStateSchema>

/** A state to write: the state's fields plus the version it was read at (0: no row). */
export type AlertStateUpdate = Omit<AlertState, 'version' | 'run_id'> & {
  expected_version: number
}

/** A Slack message as stored in the outbox: what `IncomingWebhook.send` gets. */
export type SlackBlock = NonNullable<IncomingWebhookSendArguments['blocks']>[number]

const SlackPayloadSchema = z.object({
  text: z.string(),
  blocks: z.array(
    z.custom<SlackBlock>(
      (block) => typeof block === 'object' && block !== null && 'type' in block,
      'must be a Block Kit block',
    ),
  ),
})
export type SlackPayload = z.infer<typeof SlackPayloadSchema>

const OutboxStatusSchema = z.enum(['pending', 'sent', 'failed'])
export type OutboxStatus = z.infer<typeof OutboxStatusSchema>

const OutboxMessageSchema = z.object({
  id: z.coerce.number().int(),
  run_id: z.string(),
  route: RouteSchema,
  payload: SlackPayloadSchema,
  alerts: z.array(z.unknown()),
  status: OutboxStatusSchema,
  attempts: z.number().int(),
  created_at: timestamp,
  last_attempt_at: timestamp.nullable(),
  sent_at: timestamp.nullable(),
  http_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
})
export type OutboxMessage = z.infer<typeof OutboxMessageSchema>

/** What a scheduled tick writes to dq.monitor_heartbeat (alerts/heartbeat computes it). */
export type Heartbeat = {
  /** The tick (UTC, to the minute) the beat belongs to. */
  beat_at: string
  /** Seconds from this tick to the next: when the next run is expected. */
  interval_seconds: number
  /** The tick after the next: past it with no newer beat, the monitor is stale. */
  stale_after: string
}

/** One run's decision, written atomically by `dq.enqueue_alerts`. */
export type AlertBatch = {
  run_id: string
  states: AlertStateUpdate[]
  messages: { route: Route; payload: SlackPayload; alerts: unknown[] }[]
  /** Scheduled runs only: the heartbeat that staleness is measured from. */
  heartbeat?: Heartbeat
}

const EnqueueResultSchema = z.object({
  conflict: z.boolean(),
  /** The keys that moved since they were read (on conflict). */
  keys: z.array(z.string()),
  /** Outbox ids of the messages written, in order. */
  ids: z.array(z.coerce.number().int()),
})
export type EnqueueResult = z.infer<typeof EnqueueResultSchema>

const MonitorStatusSchema = z.object({
  /** The run of the last beat; null when it came from a tick with no check due (no run). */
  last_run_id: z.string().nullable(),
  /** The tick of the last beat (not when its run finished). */
  last_beat_at: timestamp.nullable(),
  /** Seconds from the last beat's tick to the next one. */
  interval_seconds: z.number().int().nullable(),
  /** When the last beat goes stale (dq.heartbeat_deadline). */
  stale_after: timestamp.nullable(),
  age_seconds: z.coerce.number().nullable(),
  stale: z.boolean(),
})
export type MonitorStatus = z.infer<typeof MonitorStatusSchema>

/** `dq.record_heartbeat`: whether the beat was written, and the status before it. */
const RecordHeartbeatResultSchema = z.object({
  recorded: z.boolean(),
  monitor: MonitorStatusSchema,
})
export type RecordHeartbeatResult = z.infer<typeof RecordHeartbeatResultSchema>

/** How one outbox message's send ended: sent (Slack said 200), pending (retry later) or failed. */
export type SendOutcome = {
  status: OutboxStatus
  attempts: number
  httpStatus?: number | null
  error?: string | null
  /** Slack's Retry-After, when longer than a run waits: no run sends it before then. */
  retryAfterMs?: number
}

/** Alert state by dedup key (all keys when omitted): what on-call was last told. */
export async function alertStates(
  port: DatabasePort,
  keys?: readonly string[],
): Promise<AlertState[]> {
  const reply = await port.call('alert_states', { dedup_keys: keys ? [...keys] : null })
  return parseReply(z.array(AlertStateSchema), reply, 'alert state')
}

/**
 * Writes one run's alert decision atomically (state, outbox messages,
 * heartbeat); `conflict` when a key moved since it was read (nothing written).
 */
export async function enqueueAlerts(port: DatabasePort, batch: AlertBatch): Promise<EnqueueResult> {
  return parseReply(
    EnqueueResultSchema,
    await port.call('enqueue_alerts', { batch }),
    'enqueue result',
  )
}

/** Pending outbox messages, oldest first; leased for `leaseSeconds` when > 0. */
export async function pendingAlerts(
  port: DatabasePort,
  options: { limit?: number; leaseSeconds?: number } = {},
): Promise<OutboxMessage[]> {
  const reply = await port.call('pending_alerts', {
    max_messages: options.limit ?? 10,
    lease_seconds: options.leaseSeconds ?? 0,
  })
  return parseReply(z.array(OutboxMessageSchema), reply, 'outbox messages')
}

/** Records a send: sent (Slack said 200), pending (retry later) or failed (for good). */
export async function markAlert(
  port: DatabasePort,
  id: number,
  outcome: SendOutcome,
): Promise<{ updated: boolean }> {
  const reply = await port.call('mark_alert', {
    outbox_id: id,
    outcome: outcome.status,
    attempts: outcome.attempts,
    http_status: outcome.httpStatus ?? null,
    error_text: outcome.error ?? null,
    retry_after_seconds:
      outcome.retryAfterMs === undefined ? null : Math.ceil(outcome.retryAfterMs / 1000),
  })
  return parseReply(z.object({ updated: z.boolean() }), reply, 'mark result')
}

/** The last scheduled beat and whether the monitor is stale at `asOf` (default now). */
export async function monitorStatus(
  port: DatabasePort,
  options: { asOf?: string; excludeRun?: string } = {},
): Promise<MonitorStatus> {
  const reply = await port.call('monitor_status', {
    as_of: options.asOf ?? null,
    exclude_run: options.excludeRun ?? null,
  })
  return parseReply(MonitorStatusSchema, reply, 'monitor status')
}

/** A tick with no check due: the heartbeat alone (dq.record_heartbeat). */
export async function putHeartbeat(
  port: DatabasePort,
  heartbeat: Heartbeat,
): Promise<RecordHeartbeatResult> {
  const reply = await port.call('record_heartbeat', { heartbeat })
  return parseReply(RecordHeartbeatResultSchema, reply, 'heartbeat result')
}

const WaitingAlertSchema = z.object({
  id: z.coerce.number().int(),
  run_id: z.string(),
  /** leased: another run is sending it (or died doing so); retry_after: Slack asked to wait. */
  reason: z.enum(['leased', 'retry_after']),
  until: timestamp,
  attempts: z.number().int(),
  last_error: z.string().nullable(),
})
export type WaitingAlert = z.infer<typeof WaitingAlertSchema>

/** Pending messages no run may send now, and until when. */
export async function waitingAlerts(port: DatabasePort): Promise<WaitingAlert[]> {
  return parseReply(
    z.array(WaitingAlertSchema),
    await port.call('waiting_alerts', {}),
    'waiting alerts',
  )
}
