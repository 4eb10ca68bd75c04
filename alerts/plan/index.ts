/**
 * Planning: from the alert state and a run's results, what this run would
 * say on Slack (alerts/policy decides, alerts/slack/message renders). Reads,
 * writes nothing: `notify` writes the plan through the outbox, `dq demo` and
 * `dq alerts preview` only show it.
 *
 * @example
 * ```ts
 * const plan = await planRun(port, run, checks, { databaseLabel: 'prod', criticalRoute: false })
 * plan.messages[0]?.payload.text // 'dq-monitor: 11 failing: ...'
 * ```
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { isUnexpandedGenerator } from '../../checks/generate.ts'
import type { CheckResult, RunResult, RunTrigger } from '../../checks/result.ts'
import { latestResults } from '../../checks/store.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { cronHeartbeat } from '../heartbeat/index.ts'
import { type Alert, decideAlerts, dedupKey, STALE_KEY } from '../policy/index.ts'
import { type RenderedMessage, renderMessages } from '../slack/message/index.ts'
import { type AlertBatch, alertStates, type MonitorStatus, monitorStatus } from '../store/index.ts'

export type Plan = {
  alerts: Alert[]
  messages: RenderedMessage[]
  batch: AlertBatch
  monitor?: MonitorStatus
}

export type PlanOptions = {
  /** How messages name the database (alerts/config `databaseLabel`): never a connection string. */
  databaseLabel: string
  /** Scheduled runs: the cron expression that fired, for the monitor's own staleness. */
  heartbeat?: { cron: string } | undefined
  /** SLACK_WEBHOOK_URL_CRITICAL is set: critical checks get their own message. */
  criticalRoute: boolean
  /** Decide as if nothing had been told yet (preview --all). */
  ignoreState?: boolean
  /**
   * The whole (expanded) catalog, when this run covers it: open alerts of
   * checks not in it resolve as removed (unless a generator could not expand).
   */
  catalogChecks?: readonly ResolvedCheck[] | undefined
}

/** Reads state and decides, writing nothing: what a run would send. */
export async function planRun(
  port: DatabasePort,
  run: Pick<RunResult, 'run_id' | 'trigger' | 'started_at' | 'results'>,
  checks: readonly ResolvedCheck[],
  options: PlanOptions,
): Promise<Plan> {
  const at = new Date(run.started_at)
  const heartbeat = options.heartbeat && cronHeartbeat(options.heartbeat.cron, at)
  const keys = [
    ...checks.flatMap((c) => [dedupKey(c.name, 'threshold'), dedupKey(c.name, 'error')]),
    STALE_KEY,
  ]
  const states = options.ignoreState ? [] : await alertStates(port, keys)
  // A generator that could not expand this run hides its checks: their absence proves nothing.
  const catalogChecks = options.catalogChecks?.some(isUnexpandedGenerator)
    ? undefined
    : options.catalogChecks
  const known = catalogChecks && new Set(catalogChecks.map((c) => c.name))
  const removed =
    known && !options.ignoreState
      ? (await alertStates(port)).filter(
          (state) => state.check !== null && !known.has(state.check) && state.status !== 'pass',
        )
      : []
  const monitor = heartbeat
    ? await monitorStatus(port, { asOf: run.started_at, excludeRun: run.run_id })
    : undefined
  const decision = decideAlerts({
    results: run.results,
    checks,
    states,
    at,
    criticalRoute: options.criticalRoute,
    ...(monitor ? { monitor } : {}),
    removed,
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

/**
 * What `dq alerts preview` shows: the message the latest recorded results
 * would produce now (nothing already told is repeated), or, with `all`, every
 * non-passing check as if it were new. Writes nothing and sends nothing.
 */
export async function previewAlerts(
  port: DatabasePort,
  checks: readonly ResolvedCheck[],
  options: { databaseLabel: string; criticalRoute?: boolean; all?: boolean; at?: Date },
): Promise<Plan & { latest: number }> {
  const latest = await latestResults(
    port,
    checks.map((c) => c.name),
  )
  const results: CheckResult[] = []
  let newest: { run_id: string; trigger: RunTrigger; started_at: string } | undefined
  const byName = new Map(checks.map((c) => [c.name, c]))
  for (const check of checks) {
    const entry = latest[check.name]
    if (!entry) continue
    const { run_id, trigger, started_at, ...stored } = entry
    // A result recorded before results kept their severity and owner: the catalog's.
    const result = {
      ...stored,
      kind: check.kind,
      severity: stored.severity ?? byName.get(check.name)?.severity ?? 'warning',
      error_code: stored.error_code as CheckResult['error_code'],
    }
    results.push(result)
    if (!newest || started_at > newest.started_at) newest = { run_id, trigger, started_at }
  }
  const at = options.at ?? new Date()
  const plan = await planRun(
    port,
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
