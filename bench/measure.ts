/**
 * Wall-clock timing of one contender: warm-up runs first (caches, plans,
 * JIT), then N measured runs, summarised by min and median. The client is on
 * the same machine, so a round trip is noise next to a scan.
 *
 * @example
 * ```ts
 * const timing = await measure(() => sql.unsafe('select count(*) from t'), { runs: 5, warmup: 1 })
 * timing.median_ms // 123.4
 * ```
 */
import { z } from 'zod'

export const TimingSchema = z.object({
  runs_ms: z.array(z.number().nonnegative()),
  min_ms: z.number().nonnegative(),
  median_ms: z.number().nonnegative(),
})
export type Timing = z.infer<typeof TimingSchema>

export async function measure<T>(
  run: () => Promise<T>,
  options: { runs: number; warmup: number },
): Promise<{ timing: Timing; last: T }> {
  let last: T | undefined
  for (let i = 0; i < options.warmup; i++) last = await run()
  const runs: number[] = []
  for (let i = 0; i < options.runs; i++) {
    const started = performance.now()
    last = await run()
    runs.push(round(performance.now() - started))
  }
  return { timing: summarise(runs), last: last as T }
}

export function summarise(runs: number[]): Timing {
  const sorted = [...runs].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median =
    sorted.length === 0
      ? 0
      : sorted.length % 2 === 1
        ? (sorted[middle] ?? 0)
        : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
  return { runs_ms: runs, min_ms: sorted[0] ?? 0, median_ms: round(median) }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}
