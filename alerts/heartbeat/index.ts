/**
 * The monitor watches itself: each scheduled tick leaves a heartbeat, and the
 * next run (or `GET /health?deep=1`) calls the monitor stale once the second
 * tick after that beat has passed with no newer one: two runs in a row
 * missed. Measured in the cron's own ticks, because its gaps may differ: a
 * weekday cron beats on Friday and is next expected on Monday, and
 * `0 9,12 * * *` alternates 3 and 21 hours. SQL cannot read a cron, so the
 * deadline is computed here and stored (dq.monitor_heartbeat.stale_after).
 *
 * @example
 * ```ts
 * cronHeartbeat('0 9 * * 1-5', new Date('2026-11-20T09:00:00Z')) // Friday
 * // { beat_at: '2026-11-20T09:00:00.000Z', interval_seconds: 259200,   (Fri → Mon)
 * //   stale_after: '2026-11-24T09:00:00.000Z' }                        (Tuesday's tick)
 * ```
 */
import { cronError, nextTicks, tickOf } from '../../checks/cron.ts'
import { messageOf } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { errorText } from '../slack/text/index.ts'
import { type Heartbeat, type MonitorStatus, putHeartbeat } from '../store/index.ts'

/**
 * The heartbeat of the tick of `expression` that `at` belongs to (tickOf:
 * a late delivery keeps its tick); undefined for an empty or invalid
 * expression (a hand-made scheduled event), which leaves no heartbeat.
 */
export function cronHeartbeat(expression: string, at: Date): Heartbeat | undefined {
  if (cronError(expression) !== undefined) return undefined // tickOf would keep the minute of `at`
  try {
    const tick = tickOf(expression, at)
    const [next, afterNext] = nextTicks(expression, tick)
    return {
      beat_at: tick.toISOString(),
      interval_seconds: Math.max(60, Math.round((next.getTime() - tick.getTime()) / 1000)),
      stale_after: afterNext.toISOString(),
    }
  } catch {
    return undefined // a cron with no future tick (cron-parser gives up searching)
  }
}

/** What to say when the monitor was down before this tick. */
export function downProblem(monitor: MonitorStatus): string {
  return `the monitor was down: no scheduled run completed since ${monitor.last_beat_at} (two scheduled ticks in a row were missed)`
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
 * const beat = await recordHeartbeat(port, { cron: controller.cron, at })
 * for (const problem of beat.problems) console.error(`dq-monitor: ${problem}`)
 * ```
 */
export async function recordHeartbeat(
  port: DatabasePort,
  tick: { cron: string; at: Date },
): Promise<HeartbeatOutcome> {
  const heartbeat = cronHeartbeat(tick.cron, tick.at)
  if (!heartbeat) return { recorded: false, problems: [] } // a hand-made event: no schedule to keep
  try {
    const { recorded, monitor } = await putHeartbeat(port, heartbeat)
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
