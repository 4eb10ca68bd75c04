/**
 * How long a cron tick waits, after its scheduled time, before it reads
 * PostgreSQL's change counters (supabase/schemas/27_unchanged.sql), so that an
 * unchanged answer never misses a write committed before the tick.
 *
 * A session keeps its counts to itself until it flushes them to shared
 * memory: when it goes idle, at most once a second (PGSTAT_MIN_INTERVAL); a
 * flush put off that way, or one that met a lock, is forced by the idle timer
 * 10 s later (PGSTAT_IDLE_INTERVAL) or, for a session that never stays idle,
 * after 60 s (PGSTAT_MAX_INTERVAL). Those are the constants of PostgreSQL 15
 * to 18 (src/backend/utils/activity/pgstat.c). Read 61 s after the tick, the
 * counters hold every write committed before it by a session that has gone
 * idle since. Not one that committed within a second of its last flush and
 * went straight into a statement still running: its counts wait for that
 * statement (a procedure's own COMMITs are seen: dq.uncounted_writes).
 *
 * @example
 * ```ts
 * const settle = countsSettle({ DQ_COUNTS_SETTLE_SECONDS: '61' }) // 61_000 ms
 * await settleCounts(tickTime, settle)   // returns at tickTime + 61 s, at once for older ticks
 * ```
 */
import { z } from 'zod'
import { DqError } from '../kernel/errors.ts'
import { wholeNumberVar } from '../kernel/whole-number.ts'

/** PGSTAT_MAX_INTERVAL (60 s) and a second of margin. */
const DEFAULT_SETTLE_SECONDS = 61
const MAX_SETTLE_SECONDS = 600

const SettleBindingsSchema = z.object({
  DQ_COUNTS_SETTLE_SECONDS: wholeNumberVar(
    'DQ_COUNTS_SETTLE_SECONDS',
    { min: 0, max: MAX_SETTLE_SECONDS },
    DEFAULT_SETTLE_SECONDS,
  ),
})

/** The settle time in ms from the Worker's bindings; a malformed value is a DqError ('config') naming it. */
export function countsSettle(env: unknown): number {
  const parsed = SettleBindingsSchema.safeParse(env ?? {})
  if (!parsed.success) {
    throw new DqError('config', parsed.error.issues.map((issue) => issue.message).join('; '))
  }
  return parsed.data.DQ_COUNTS_SETTLE_SECONDS * 1000
}

export type SettleClock = {
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

/** Waits until `settleMs` after the tick `at`; returns how long it waited (0 for an older tick). */
export async function settleCounts(
  at: Date,
  settleMs: number,
  clock: SettleClock = {},
): Promise<number> {
  const now = clock.now ?? Date.now
  const sleep = clock.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const wait = at.getTime() + settleMs - now()
  if (wait <= 0) return 0
  await sleep(wait)
  return wait
}
