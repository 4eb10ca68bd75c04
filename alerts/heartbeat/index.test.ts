// The cron interval a scheduled run expects before the next one: staleness is twice it.
import { describe, expect, it } from 'vitest'
import { cronIntervalSeconds } from './index.ts'

describe('cronIntervalSeconds', () => {
  it.each([
    ['0 * * * *', '2026-11-23T03:00:00Z', 3600],
    ['0 * * * *', '2026-11-23T03:00:42Z', 3600], // a late delivery belongs to its tick
    ['*/15 * * * *', '2026-11-23T03:15:00Z', 900],
    ['0 */6 * * *', '2026-11-23T06:00:00Z', 6 * 3600],
    ['0 9 * * 1-5', '2026-11-23T09:00:00Z', 3 * 86400], // Monday: Friday → Monday
    ['0 9 * * 1-5', '2026-11-24T09:00:00Z', 86400],
  ])('%s at %s: %i s', (cron, at, seconds) => {
    expect(cronIntervalSeconds(cron, new Date(at))).toBe(seconds)
  })

  it('an empty or invalid expression (a hand-made event) has no interval', () => {
    expect(cronIntervalSeconds('', new Date())).toBeUndefined()
    expect(cronIntervalSeconds('every hour', new Date())).toBeUndefined()
  })
})
