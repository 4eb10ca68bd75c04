/**
 * Fan-out's settings, from the Worker's bindings. No DQ_QUEUE binding: no
 * fan-out, every tick runs inline as before. A malformed value is a DqError
 * ('config') naming it.
 *
 * @example
 * ```ts
 * fanOutSettings({ DQ_QUEUE: env.DQ_QUEUE, DQ_CONNECTION_BUDGET: '4' })
 * // { queue, connectionBudget: 4, checksPerMessage: 20, deadLetterQueue: 'dq-checks-dlq' }
 * ```
 */
import { z } from 'zod'
import { DqError } from '../../kernel/errors.ts'
import { wholeNumberVar } from '../../kernel/whole-number.ts'
import { MAX_CHECKS_PER_MESSAGE, type PartMessage } from './message.ts'

/** The producer side of a Queue binding, as fan-out uses it. */
export type PartQueue = {
  sendBatch(messages: Iterable<{ body: PartMessage; contentType?: 'json' }>): Promise<unknown>
}

/**
 * Connections one consumer invocation may hold, and so checks it runs at once.
 * A Worker invocation may hold 6 simultaneous connections (any plan); the
 * default leaves room for Slack's.
 */
const DEFAULT_CONNECTION_BUDGET = 4
const MAX_CONNECTION_BUDGET = 6
const DEFAULT_CHECKS_PER_MESSAGE = 20
const DEFAULT_DEAD_LETTER_QUEUE = 'dq-checks-dlq'

const FanOutBindingsSchema = z.object({
  DQ_QUEUE: z
    .custom<PartQueue>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { sendBatch?: unknown }).sendBatch === 'function',
      'DQ_QUEUE must be a Queue producer binding (wrangler.toml [[queues.producers]])',
    )
    .optional(),
  DQ_CONNECTION_BUDGET: wholeNumberVar(
    'DQ_CONNECTION_BUDGET',
    { min: 1, max: MAX_CONNECTION_BUDGET },
    DEFAULT_CONNECTION_BUDGET,
  ),
  DQ_CHECKS_PER_MESSAGE: wholeNumberVar(
    'DQ_CHECKS_PER_MESSAGE',
    { min: 1, max: MAX_CHECKS_PER_MESSAGE },
    DEFAULT_CHECKS_PER_MESSAGE,
  ),
  DQ_DEAD_LETTER_QUEUE: z.string().min(1).default(DEFAULT_DEAD_LETTER_QUEUE),
})

export type FanOutSettings = {
  /** Undefined: no fan-out, ticks run inline. */
  queue: PartQueue | undefined
  connectionBudget: number
  checksPerMessage: number
  /** The queue whose batches are given up on: their checks are recorded as never ran. */
  deadLetterQueue: string
}

export function fanOutSettings(env: unknown): FanOutSettings {
  const parsed = FanOutBindingsSchema.safeParse(env ?? {})
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new DqError('config', `the Worker is misconfigured: ${problems.join('; ')}`)
  }
  const settings = parsed.data
  return {
    queue: settings.DQ_QUEUE,
    connectionBudget: settings.DQ_CONNECTION_BUDGET,
    checksPerMessage: settings.DQ_CHECKS_PER_MESSAGE,
    deadLetterQueue: settings.DQ_DEAD_LETTER_QUEUE,
  }
}
