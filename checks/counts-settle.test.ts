import { describe, expect, it } from 'vitest'
import { countsSettle, settleCounts } from './counts-settle.ts'

describe('countsSettle', () => {
  it('61 s by default (PostgreSQL forces a deferred flush after 60 s), 0 to not wait', () => {
    expect(countsSettle({})).toBe(61_000)
    expect(countsSettle({ DQ_COUNTS_SETTLE_SECONDS: ' ' })).toBe(61_000)
    expect(countsSettle({ DQ_COUNTS_SETTLE_SECONDS: '0' })).toBe(0)
    expect(countsSettle({ DQ_COUNTS_SETTLE_SECONDS: '120' })).toBe(120_000)
  })

  it('a malformed value is a config error naming the setting', () => {
    for (const bad of ['-1', '1.5', '1e2', '601', 'soon']) {
      expect(() => countsSettle({ DQ_COUNTS_SETTLE_SECONDS: bad })).toThrow(
        /DQ_COUNTS_SETTLE_SECONDS must be a whole number from 0 to 600/,
      )
    }
  })
})

describe('settleCounts', () => {
  const at = new Date('2026-12-01T10:00:00Z')
  const clock = (now: number) => {
    const slept: number[] = []
    return {
      slept,
      now: () => now,
      sleep: async (ms: number) => {
        slept.push(ms)
      },
    }
  }

  it('a tick read at once waits out the settle time from the tick', async () => {
    const c = clock(at.getTime() + 1_000)
    expect(await settleCounts(at, 61_000, c)).toBe(60_000)
    expect(c.slept).toEqual([60_000])
  })

  it('an older tick (a late consumer, a redelivery) does not wait', async () => {
    const c = clock(at.getTime() + 61_000)
    expect(await settleCounts(at, 61_000, c)).toBe(0)
    expect(c.slept).toEqual([])
  })
})
