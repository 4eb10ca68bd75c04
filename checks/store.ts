/**
 * What checks ask of the database, on top of the port's one primitive
 * (`call`): measure a check, plan it, advise indexes, claim and record runs,
 * read history. Replies are validated here, at the boundary.
 *
 * Only what the kind's SQL reads reaches it: the runner's and the policy's
 * fields (threshold, severity, owner, schedule, anomaly, generated...) never
 * do, so dq.spec_hash, which hashes the spec as sent, never moves when they
 * change (incremental watermarks and unchanged answers are kept).
 *
 * @example
 * ```ts
 * const measurement = await measureCheck(port, check, { timeoutSeconds: 60 })
 * await recordRun(port, run)
 * const last = await checkHistory(port, 'pwh_experience_key_stale', 5)
 * ```
 */
import { z } from 'zod'
import { isoTimestamp, parseReply } from '../kernel/parse.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { type Anomaly, commonFields, RUNNER_FIELDS } from './fields.ts'
import { KINDS } from './kinds/index.ts'
import {
  type HistoryEntry,
  HistoryEntrySchema,
  type Measurement,
  MeasurementSchema,
  type RunResult,
} from './result.ts'

export type RunRecord = RunResult & {
  /** The scheduled tick's time: a tick delivered twice records one run. */
  idempotency_key?: string
}

export type RunClaim = Pick<RunResult, 'run_id' | 'trigger' | 'started_at'> & {
  idempotency_key: string
}

type Spec = { name: string; kind: string } & Record<string, unknown>

/**
 * The fields SQL reads of each kind's checks: name (single flight, history),
 * fullEvery (when an unchanged answer must scan again) and the kind's own
 * fields, `kind` among them.
 */
const SQL_FIELDS = new Map(
  KINDS.map((kind) => [
    kind.kind as string,
    new Set([
      'name',
      'fullEvery',
      ...Object.keys(kind.schema.shape).filter((field) => !(field in commonFields)),
    ]),
  ]),
)

/**
 * The spec as SQL gets it: only the fields its kind's SQL reads, whatever
 * else the check carries (a check stored by another deploy may carry more).
 * A kind this code does not know loses the runner's fields only, and SQL
 * names the unknown kind.
 */
export function measurementSpec(check: object): Record<string, unknown> {
  const fields = SQL_FIELDS.get(String((check as { kind?: unknown }).kind))
  return Object.fromEntries(
    Object.entries(check).filter(([field]) =>
      fields ? fields.has(field) : !RUNNER_FIELDS.includes(field),
    ),
  )
}

/**
 * Which tables a run reads: 'all' (the default) scans every check's tables;
 * 'changed' answers a check whose tables did not change since its last full
 * scan from that scan (details.scope "unchanged", supabase/schemas/27_unchanged.sql).
 */
export type ScanScope = 'all' | 'changed'

/** Runs one check in its own READ ONLY transaction with a statement timeout. */
export async function measureCheck(
  port: DatabasePort,
  check: Spec,
  options: { timeoutSeconds: number; scan?: ScanScope },
): Promise<Measurement> {
  const spec = measurementSpec(check)
  const reply = await port.call(
    'run_check',
    { spec: options.scan === 'changed' ? { ...spec, scan: 'changed' } : spec },
    { readOnly: { timeoutSeconds: options.timeoutSeconds } },
  )
  return parseReply(MeasurementSchema, reply, 'check measurement')
}

/** Plans a check's queries without reading user rows (`dq validate --db`). */
export async function validateCheck(
  port: DatabasePort,
  check: Spec,
  options: { timeoutSeconds: number },
): Promise<void> {
  await port.call('validate_check', { spec: measurementSpec(check) }, { readOnly: options })
}

const IndexAdviceSchema = z.object({
  value: z.number(),
  details: z.object({
    indexes: z.array(
      z.object({
        table: z.string(),
        columns: z.array(z.string()),
        purpose: z.string(),
        present: z.boolean().nullable(),
        create: z.string().nullable(),
      }),
    ),
  }),
  sample: z.array(z.unknown()),
})
export type IndexAdvice = z.infer<typeof IndexAdviceSchema>

/**
 * The indexes an incremental check needs (value: how many are missing;
 * details.indexes; sample: the CREATE INDEX to run). Reads no rows.
 */
export async function indexAdvice(
  port: DatabasePort,
  check: Spec,
  options: { timeoutSeconds: number },
): Promise<IndexAdvice> {
  const reply = await port.call(
    'index_advice',
    { spec: measurementSpec(check) },
    { readOnly: options },
  )
  return parseReply(IndexAdviceSchema, reply, 'index advice')
}

/**
 * Claims a scheduled tick before its checks run (its idempotency key); false
 * when another delivery of the tick has it. `recordRun` completes the claim.
 */
export async function claimRun(port: DatabasePort, run: RunClaim): Promise<boolean> {
  const reply = await port.call('claim_run', { run })
  return parseReply(z.object({ claimed: z.boolean() }), reply, 'run claim').claimed
}

/** Stores a run and its results; false when its idempotency key was already recorded. */
export async function recordRun(port: DatabasePort, run: RunRecord): Promise<boolean> {
  const reply = await port.call('record_run', { run })
  return parseReply(z.object({ recorded: z.boolean() }), reply, 'run record').recorded
}

// numeric columns come back as JSON numbers from jsonb; be lenient with strings.
export const HistoryRowSchema = HistoryEntrySchema.extend({
  value: z.coerce.number().nullable(),
  started_at: z.union([z.string(), z.date()]).transform(isoTimestamp),
})

/** A check's results, newest first. */
export async function checkHistory(
  port: DatabasePort,
  check: string,
  limit: number,
): Promise<HistoryEntry[]> {
  const reply = await port.call('check_history', { check_name: check, max_results: limit })
  return parseReply(z.array(HistoryRowSchema), reply, 'history')
}

/** The latest result of each named check (all when omitted), by check name. */
export async function latestResults(
  port: DatabasePort,
  checks?: readonly string[],
): Promise<Record<string, HistoryEntry>> {
  const reply = await port.call('latest_results', { check_names: checks ? [...checks] : null })
  return parseReply(z.record(z.string(), HistoryRowSchema), reply, 'latest results')
}

/** What dq.anomaly (supabase/schemas/26_anomaly.sql) answers. */
const AnomalyTestSchema = z.object({
  mean: z.number().nullable(),
  stddev: z.number().nullable(),
  z: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  training: z.number(),
  anomalous: z.boolean(),
  reason: z.string().nullable(),
  metric: z.enum(['value', 'ratio']),
  /** The last figures in history and this one, oldest first. */
  recent: z.array(z.number()),
})
export type AnomalyTest = z.infer<typeof AnomalyTestSchema>

/**
 * A check's figure against its own full-scope results in history (the
 * `anomaly` option), computed in the database: one query, read-only.
 */
export async function anomalyTest(
  port: DatabasePort,
  check: string,
  settings: Anomaly,
  figure: number,
  options: { timeoutSeconds: number },
): Promise<AnomalyTest> {
  const reply = await port.call(
    'anomaly',
    { check_name: check, settings, figure },
    { readOnly: options },
  )
  return parseReply(AnomalyTestSchema, reply, 'anomaly test')
}
