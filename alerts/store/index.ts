/**
 * What the `dq` alert functions (migration 20261123000004_dq_alerts.sql)
 * take and return: alert state per dedup
 * key, outbox messages, the monitor's heartbeat. Validated at the boundary,
 * like db/results.ts, so a drifted schema fails loudly instead of sending
 * wrong alerts.
 *
 * @example
 * ```ts
 * const states = parseAlertStates(await db.call('alert_states', { dedup_keys: null }))
 * states[0] // { dedup_key: 'orders_dups/threshold', status: 'fail', version: 3, ... }
 * ```
 */
import type { IncomingWebhookSendArguments } from '@slack/webhook'
import { z } from 'zod'
import { StatusSchema } from '../../checks/result.ts'
import { parse } from '../../db/results.ts'
import type { Heartbeat } from '../heartbeat/index.ts'

/** threshold: pass/warn/fail of a check; error: the check could not run; stale: the monitor was down. */
export const AlertKindSchema = z.enum(['threshold', 'error', 'stale'])
export type AlertKind = z.infer<typeof AlertKindSchema>

/** Which webhook a message goes to: SLACK_WEBHOOK_URL, or SLACK_WEBHOOK_URL_CRITICAL. */
export const RouteSchema = z.enum(['default', 'critical'])
export type Route = z.infer<typeof RouteSchema>

const timestamp = z.union([z.string(), z.date()]).transform((t) => new Date(t).toISOString())

export const AlertStateSchema = z.object({
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

export const SlackPayloadSchema = z.object({
  text: z.string(),
  blocks: z.array(
    z.custom<SlackBlock>(
      (block) => typeof block === 'object' && block !== null && 'type' in block,
      'must be a Block Kit block',
    ),
  ),
})
export type SlackPayload = z.infer<typeof SlackPayloadSchema>

export const OutboxStatusSchema = z.enum(['pending', 'sent', 'failed'])
export type OutboxStatus = z.infer<typeof OutboxStatusSchema>

export const OutboxMessageSchema = z.object({
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

/** One run's decision, written atomically by `dq.enqueue_alerts`. */
export type AlertBatch = {
  run_id: string
  states: AlertStateUpdate[]
  messages: { route: Route; payload: SlackPayload; alerts: unknown[] }[]
  /** Scheduled runs only: the heartbeat that staleness is measured from. */
  heartbeat?: Heartbeat
}

export const EnqueueResultSchema = z.object({
  conflict: z.boolean(),
  /** The keys that moved since they were read (on conflict). */
  keys: z.array(z.string()),
  /** Outbox ids of the messages written, in order. */
  ids: z.array(z.coerce.number().int()),
})
export type EnqueueResult = z.infer<typeof EnqueueResultSchema>

export const MonitorStatusSchema = z.object({
  /** null when the last beat came from a tick with no check due (no run). */
  last_run_id: z.string().nullable(),
  last_run_at: timestamp.nullable(),
  /** Seconds from the last beat's tick to the next one. */
  interval_seconds: z.number().int().nullable(),
  /** When the last beat goes stale (dq.heartbeat_deadline). */
  stale_after: timestamp.nullable().default(null),
  age_seconds: z.coerce.number().nullable(),
  stale: z.boolean(),
})
export type MonitorStatus = z.infer<typeof MonitorStatusSchema>

/** `dq.record_heartbeat`: whether the beat was written, and the status before it. */
export const RecordHeartbeatResultSchema = z.object({
  recorded: z.boolean(),
  monitor: MonitorStatusSchema,
})
export type RecordHeartbeatResult = z.infer<typeof RecordHeartbeatResultSchema>

export const MarkResultSchema = z.object({ updated: z.boolean() })

export const parseAlertStates = (value: unknown): AlertState[] =>
  parse(z.array(AlertStateSchema), value, 'alert state')
export const parseEnqueueResult = (value: unknown): EnqueueResult =>
  parse(EnqueueResultSchema, value, 'enqueue result')
export const parseOutbox = (value: unknown): OutboxMessage[] =>
  parse(z.array(OutboxMessageSchema), value, 'outbox messages')
export const parseMonitorStatus = (value: unknown): MonitorStatus =>
  parse(MonitorStatusSchema, value, 'monitor status')
export const parseMarkResult = (value: unknown): { updated: boolean } =>
  parse(MarkResultSchema, value, 'mark result')
export const parseRecordHeartbeat = (value: unknown): RecordHeartbeatResult =>
  parse(RecordHeartbeatResultSchema, value, 'heartbeat result')
