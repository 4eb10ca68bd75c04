/**
 * The queue message of a fanned-out tick: one part of its due checks, by
 * name. The specs stay in the database (dq.run_fan_out, written when the tick
 * was claimed), so a message is small whatever the checks, and a consumer
 * runs exactly what the tick resolved, even across a deploy.
 *
 * @example
 * ```ts
 * partsOf('0c37…', ['a', 'b', 'c'], 2)
 * // [{ v: 1, run_id: '0c37…', part: 0, parts: 2, checks: ['a', 'b'] },
 * //  { v: 1, run_id: '0c37…', part: 1, parts: 2, checks: ['c'] }]
 * ```
 */
import { z } from 'zod'

/** The most checks one message may carry (DQ_CHECKS_PER_MESSAGE's upper bound). */
export const MAX_CHECKS_PER_MESSAGE = 500

export const PartMessageSchema = z.strictObject({
  /** The message format's version: a consumer refuses (acks and logs) any other. */
  v: z.literal(1),
  /** The tick's run: every result of the part is recorded under it. */
  run_id: z.uuid(),
  /** This part's index (0-based) and how many parts the tick has, for messages to people. */
  part: z.number().int().nonnegative(),
  parts: z.number().int().positive(),
  checks: z.array(z.string().min(1)).min(1).max(MAX_CHECKS_PER_MESSAGE),
})
export type PartMessage = z.infer<typeof PartMessageSchema>

/** The tick's due check names split into messages of at most `size` checks, in order. */
export function partsOf(runId: string, names: readonly string[], size: number): PartMessage[] {
  const parts = Math.ceil(names.length / size)
  return Array.from({ length: parts }, (_, part) => ({
    v: 1 as const,
    run_id: runId,
    part,
    parts,
    checks: names.slice(part * size, (part + 1) * size),
  }))
}

/** "part 3 of 25", as messages to people say it (1-based). */
export function partLabel(message: Pick<PartMessage, 'part' | 'parts'>): string {
  return `part ${message.part + 1} of ${message.parts}`
}
