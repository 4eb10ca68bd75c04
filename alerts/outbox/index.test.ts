// The outbox never invents a message id: what enqueue_alerts answers is what the run reports.
import { describe, expect, it } from 'vitest'
import type { DatabasePort } from '../../kernel/port.ts'
import type { AlertBatch } from '../store/index.ts'
import { enqueuePlan } from './index.ts'

const message = { route: 'default' as const, payload: { text: 't', blocks: [] }, alerts: [] }
const plan = (messages: number): { batch: AlertBatch } => ({
  batch: { run_id: crypto.randomUUID(), states: [], messages: Array(messages).fill(message) },
})

function port(answers: unknown[]): DatabasePort & { calls: string[] } {
  const calls: string[] = []
  return {
    label: 'fake',
    calls,
    call: async (fn) => {
      calls.push(fn)
      return answers.shift()
    },
    migrate: async () => {},
    close: async () => {},
  }
}

describe('enqueuePlan', () => {
  it('returns the ids the database gave, in order', async () => {
    const db = port([{ conflict: false, keys: [], ids: [7, 8] }])
    await expect(enqueuePlan(db, async () => plan(2))).resolves.toMatchObject({ ids: [7, 8] })
  })

  it('fewer ids than messages is an error, not an id 0', async () => {
    const db = port([{ conflict: false, keys: [], ids: [7] }])
    await expect(enqueuePlan(db, async () => plan(2))).rejects.toThrow(
      /the outbox kept 1 of 2 messages/,
    )
  })

  it('decides again on a conflict, up to three times', async () => {
    const conflict = { conflict: true, keys: ['a/threshold'], ids: [] }
    const db = port([conflict, conflict, { conflict: false, keys: [], ids: [1] }])
    let decided = 0
    await expect(
      enqueuePlan(db, async () => {
        decided++
        return plan(1)
      }),
    ).resolves.toMatchObject({ ids: [1] })
    expect(decided).toBe(3)
    const stubborn = port([conflict, conflict, conflict])
    await expect(enqueuePlan(stubborn, async () => plan(1))).rejects.toThrow(/3 tries/)
  })

  it('nothing to write: no call', async () => {
    const db = port([])
    await expect(enqueuePlan(db, async () => plan(0))).resolves.toBeUndefined()
    expect(db.calls).toEqual([])
  })
})
