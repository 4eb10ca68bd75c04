/**
 * The alert policy: from what on-call was last told about each check (alert
 * state, by dedup key) and this run's results, decide what to say now.
 *
 * - `firing`: pass → warn or fail, or warn → fail; a check that cannot run
 *   (`error`) fires on its own key, apart from its threshold state.
 * - `reminder`: still broken (warn, fail or error) and the check's
 *   `repeatInterval` (default 24 hours) has passed since the last notification.
 * - `resolved`: warn or fail → pass; error → runs again.
 * - nothing otherwise (fail → warn changes the state quietly).
 *
 * A check skipped because another run holds it (an `error` result with
 * `error_code` "check_running") says nothing about the data: it neither
 * fires nor resolves, and its state stays as it was.
 *
 * Severity (the result's own) `info` never notifies; `critical` goes to the
 * critical webhook when one is configured. Pure: no I/O, the clock is the
 * run's start time.
 *
 * @example
 * ```ts
 * const { alerts, states } = decideAlerts({
 *   results: run.results, checks: catalog.checks, states: await alertStates(port),
 *   at: new Date(run.started_at), criticalRoute: false,
 * })
 * alerts[0] // { dedup_key: 'orders_dups/threshold', transition: 'firing', status: 'fail', ... }
 * ```
 */
import { z } from 'zod'
import type { ResolvedCheck, Severity } from '../../checks/catalog.ts'
import {
  type CheckResult,
  isCheckRunning,
  isIncremental,
  type Status,
  statusRank,
} from '../../checks/result.ts'
import { durationMs } from '../../kernel/duration.ts'
import type {
  AlertKind,
  AlertState,
  AlertStateUpdate,
  MonitorStatus,
  Route,
} from '../store/index.ts'

const TransitionSchema = z.enum(['firing', 'reminder', 'resolved'])
export type Transition = z.infer<typeof TransitionSchema>

/** The dedup key of the monitor's own "was down" alert (not a valid check name). */
export const STALE_KEY = 'dq-monitor/stale'

const DEFAULT_REPEAT_MS = 24 * 3_600_000

/** What the policy needs to know about a check beyond its result: that it is still in the catalog, and its reminder interval. */
export type PolicyCheck = Pick<ResolvedCheck, 'name'> & { repeatInterval?: string }

export type Alert = {
  /** Stable across the incident: "<check>/threshold", "<check>/error" or "dq-monitor/stale". */
  dedup_key: string
  alert_kind: AlertKind
  transition: Transition
  /** null for the monitor's own alert. */
  check: string | null
  /** The status now; for the stale alert, "error". */
  status: Status
  /** What on-call was told before this run. */
  previous: Status
  severity: Severity
  route: Route
  /** When the incident began (null once resolved). */
  opened_at: string | null
  /** When on-call was last told before this run (reminders, resolved). */
  last_notified_at: string | null
  /** This run's result for the check. */
  result: CheckResult | null
  /** Stale alert: the last run before the gap, and the interval expected. */
  down?: { since: string; until: string; interval_seconds: number }
  /** Resolved because the check is no longer in the catalog (or its registry row is gone). */
  removed?: true
}

export type Decision = { alerts: Alert[]; states: AlertStateUpdate[] }

export type PolicyInput = {
  results: readonly CheckResult[]
  checks: readonly PolicyCheck[]
  /** Current state of (at least) these checks' keys. */
  states: readonly AlertState[]
  /** The run's start: the time every state and interval is measured at. */
  at: Date
  /** True when SLACK_WEBHOOK_URL_CRITICAL is set: critical checks go there. */
  criticalRoute: boolean
  /** Scheduled runs: the monitor's heartbeat before this run. */
  monitor?: MonitorStatus
  /**
   * Open alerts of checks no longer in the catalog (a run over the whole
   * catalog knows): they resolve as removed, once.
   */
  removed?: readonly AlertState[]
}

export function dedupKey(check: string, kind: Exclude<AlertKind, 'stale'>): string {
  return `${check}/${kind}`
}

/** The webhook for a severity, or null: `info` never notifies. */
export function routeFor(severity: Severity, webhooks: { critical: boolean }): Route | null {
  if (severity === 'info') return null
  return severity === 'critical' && webhooks.critical ? 'critical' : 'default'
}

/** The check's reminder interval in ms (24 hours when unset or unreadable). */
function repeatMs(check: Pick<PolicyCheck, 'repeatInterval'>): number {
  return (check.repeatInterval && durationMs(check.repeatInterval)) || DEFAULT_REPEAT_MS
}

type KeyDecision = {
  transition: Transition | null
  next: { status: Status; opened_at: string | null; last_notified_at: string | null }
}

/** One key: previous state + current status → transition and next state. */
function decideKey(
  previous: Pick<AlertState, 'status' | 'opened_at' | 'last_notified_at'> | undefined,
  current: Status,
  at: Date,
  repeatIntervalMs: number,
): KeyDecision {
  const now = at.toISOString()
  const prev = previous?.status ?? 'pass'
  const opened = previous?.opened_at ?? null
  const notified = previous?.last_notified_at ?? null
  if (current === 'pass') {
    return prev === 'pass'
      ? { transition: null, next: { status: 'pass', opened_at: null, last_notified_at: notified } }
      : { transition: 'resolved', next: { status: 'pass', opened_at: null, last_notified_at: now } }
  }
  if (statusRank(current) > statusRank(prev)) {
    return {
      transition: 'firing',
      next: {
        status: current,
        opened_at: prev === 'pass' ? now : (opened ?? now),
        last_notified_at: now,
      },
    }
  }
  const due = notified === null || at.getTime() - Date.parse(notified) >= repeatIntervalMs
  return due
    ? {
        transition: 'reminder',
        next: { status: current, opened_at: opened ?? now, last_notified_at: now },
      }
    : {
        transition: null,
        next: { status: current, opened_at: opened ?? now, last_notified_at: notified },
      }
}

export function decideAlerts(input: PolicyInput): Decision {
  const at = input.at
  const byKey = new Map(input.states.map((s) => [s.dedup_key, s]))
  const byName = new Map(input.checks.map((c) => [c.name, c]))
  const alerts: Alert[] = []
  const states: AlertStateUpdate[] = []

  const stale = staleAlert(input.monitor, byKey.get(STALE_KEY), at)
  if (stale) {
    alerts.push(stale.alert)
    states.push(stale.state)
  }

  for (const gone of input.removed ?? []) {
    if (gone.status === 'pass' || gone.alert_kind === 'stale' || byName.has(gone.check ?? ''))
      continue
    if (Date.parse(gone.observed_at) > at.getTime()) continue
    const now = at.toISOString()
    states.push({
      dedup_key: gone.dedup_key,
      check: gone.check,
      alert_kind: gone.alert_kind,
      status: 'pass',
      opened_at: null,
      last_notified_at: now,
      observed_at: now,
      expected_version: gone.version,
    })
    alerts.push({
      dedup_key: gone.dedup_key,
      alert_kind: gone.alert_kind,
      transition: 'resolved',
      check: gone.check,
      status: 'pass',
      previous: gone.status,
      severity: 'warning',
      route: 'default',
      opened_at: gone.opened_at,
      last_notified_at: gone.last_notified_at,
      result: null,
      removed: true,
    })
  }

  for (const result of input.results) {
    const check = byName.get(result.check)
    const route = check && routeFor(result.severity, { critical: input.criticalRoute })
    if (!check || !route) continue // not in the catalog any more, or severity info
    // Firing here would page on overlap, and resolving would end an incident unseen.
    if (isCheckRunning(result)) continue
    const interval = repeatMs(check)
    // error results have their own key; the threshold state keeps its last figure
    const keys: [Exclude<AlertKind, 'stale'>, Status][] =
      result.status === 'error'
        ? [['error', 'error']]
        : [
            ['error', 'pass'],
            ['threshold', result.status],
          ]
    for (const [kind, current] of keys) {
      const key = dedupKey(check.name, kind)
      const previous = byKey.get(key)
      // A run that started before the one the state comes from never overwrites it.
      if (previous && Date.parse(previous.observed_at) > at.getTime()) continue
      if (!previous && current === 'pass') continue // nothing to remember
      // An incremental run measures the changed rows only: it can open or worsen
      // an incident, but only a full run can say the old bad rows are gone.
      if (
        kind === 'threshold' &&
        isIncremental(result) &&
        previous &&
        statusRank(current) < statusRank(previous.status)
      ) {
        continue
      }
      const { transition, next } = decideKey(previous, current, at, interval)
      states.push({
        dedup_key: key,
        check: check.name,
        alert_kind: kind,
        ...next,
        observed_at: at.toISOString(),
        expected_version: previous?.version ?? 0,
      })
      if (!transition) continue
      alerts.push({
        dedup_key: key,
        alert_kind: kind,
        transition,
        check: check.name,
        status: current,
        previous: previous?.status ?? 'pass',
        severity: result.severity,
        route,
        opened_at: transition === 'resolved' ? (previous?.opened_at ?? null) : next.opened_at,
        last_notified_at: previous?.last_notified_at ?? null,
        result,
      })
    }
  }
  return { alerts, states }
}

/**
 * The monitor's own alert: no run completed for twice the cron interval
 * before this one. Said once per gap (the state remembers which gap).
 */
function staleAlert(
  monitor: MonitorStatus | undefined,
  previous: AlertState | undefined,
  at: Date,
): { alert: Alert; state: AlertStateUpdate } | undefined {
  if (!monitor?.stale || !monitor.last_beat_at || !monitor.interval_seconds) return undefined
  if (previous?.opened_at === monitor.last_beat_at) return undefined // this gap was announced
  const now = at.toISOString()
  return {
    alert: {
      dedup_key: STALE_KEY,
      alert_kind: 'stale',
      transition: 'firing',
      check: null,
      status: 'error',
      previous: 'pass',
      severity: 'warning',
      route: 'default',
      opened_at: monitor.last_beat_at,
      last_notified_at: previous?.last_notified_at ?? null,
      result: null,
      down: { since: monitor.last_beat_at, until: now, interval_seconds: monitor.interval_seconds },
    },
    // The monitor is running again: the state is "pass", opened_at names the gap.
    state: {
      dedup_key: STALE_KEY,
      check: null,
      alert_kind: 'stale',
      status: 'pass',
      opened_at: monitor.last_beat_at,
      last_notified_at: now,
      observed_at: now,
      expected_version: previous?.version ?? 0,
    },
  }
}
