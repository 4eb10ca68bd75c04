// Fan-out's pure parts: messages, settings, bounded concurrency.
import { describe, expect, it } from 'vitest'
import { mapBounded, PartMessageSchema, partsOf } from './index.ts'
import { fanOutSettings } from './settings.ts'

const RUN_ID = '6f1c1f6e-2b35-4c55-9a55-3f1f0a7b2c11'

describe('partsOf', () => {
  it('splits the due checks in order into messages of at most the given size', () => {
    const names = Array.from({ length: 45 }, (_, i) => `c${i}`)
    const parts = partsOf(RUN_ID, names, 20)
    expect(parts.map((p) => [p.part, p.parts, p.checks.length])).toEqual([
      [0, 3, 20],
      [1, 3, 20],
      [2, 3, 5],
    ])
    expect(parts.flatMap((p) => p.checks)).toEqual(names)
    for (const part of parts) expect(PartMessageSchema.parse(part)).toEqual(part)
  })

  it('the message schema refuses another version, an empty part and unknown fields', () => {
    const [part] = partsOf(RUN_ID, ['a'], 1)
    expect(PartMessageSchema.safeParse({ ...part, v: 2 }).success).toBe(false)
    expect(PartMessageSchema.safeParse({ ...part, checks: [] }).success).toBe(false)
    expect(PartMessageSchema.safeParse({ ...part, extra: 1 }).success).toBe(false)
    expect(PartMessageSchema.safeParse({ ...part, run_id: 'x' }).success).toBe(false)
  })
})

describe('fanOutSettings', () => {
  it('no DQ_QUEUE: no fan-out (ticks run inline); defaults for the rest', () => {
    expect(fanOutSettings({})).toEqual({
      queue: undefined,
      connectionBudget: 4,
      checksPerMessage: 20,
      deadLetterQueue: 'dq-checks-dlq',
    })
  })

  it('reads the binding and the vars', () => {
    const queue = { sendBatch: async () => {} }
    const settings = fanOutSettings({
      DQ_QUEUE: queue,
      DQ_CONNECTION_BUDGET: '6',
      DQ_CHECKS_PER_MESSAGE: '50',
      DQ_DEAD_LETTER_QUEUE: 'dlq',
    })
    expect(settings).toEqual({
      queue,
      connectionBudget: 6,
      checksPerMessage: 50,
      deadLetterQueue: 'dlq',
    })
  })

  it.each([
    ['DQ_CONNECTION_BUDGET', '7'],
    ['DQ_CONNECTION_BUDGET', '0'],
    ['DQ_CONNECTION_BUDGET', 'four'],
    ['DQ_CHECKS_PER_MESSAGE', '501'],
    ['DQ_QUEUE', 'not a binding'],
  ])('a bad %s (%s) is a config error naming it', (name, value) => {
    expect(() => fanOutSettings({ [name]: value })).toThrow(
      expect.objectContaining({ code: 'config', message: expect.stringContaining(name) }),
    )
  })
})

describe('mapBounded', () => {
  it('never runs more than the limit at once, and keeps the order', async () => {
    let running = 0
    let most = 0
    const results = await mapBounded(
      Array.from({ length: 30 }, (_, i) => i),
      4,
      async (i) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5))
        running--
        return i * 2
      },
    )
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * 2))
    expect(most).toBe(4)
  })

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = []
    await expect(
      mapBounded([0, 1, 2, 3, 4, 5], 1, async (i) => {
        started.push(i)
        if (i === 2) throw new Error('boom')
        return i
      }),
    ).rejects.toThrow('boom')
    expect(started).toEqual([0, 1, 2])
  })
})
