// One syntax for every duration in a catalog: what it accepts, what it refuses.
import { describe, expect, it } from 'vitest'
import { DurationSchema, durationMs, formatDuration, PositiveDurationSchema } from './duration.ts'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

describe('durations', () => {
  it.each([
    ['24 hours', 24 * HOUR],
    ['30 minutes', 30 * MINUTE],
    ['30m', 30 * MINUTE],
    ['1.5h', 90 * MINUTE],
    ['7 days', 7 * 24 * HOUR],
    ['1 week', 7 * 24 * HOUR],
    [' 2 Hours ', 2 * HOUR],
    ['1 hour 30 minutes', 90 * MINUTE],
    ['2 weeks 1 day', 15 * 24 * HOUR],
    ['90s', 90 * SECOND],
    ['10 secs', 10 * SECOND],
    ['3 hrs', 3 * HOUR],
    ['45 mins', 45 * MINUTE],
    ['0 minutes', 0],
  ])('%s', (text, ms) => {
    expect(durationMs(text)).toBe(ms)
  })

  it.each([
    '',
    'daily',
    '1 month',
    '2 years',
    '-1 hours',
    '5',
    '10ms',
    '1 hour,30 minutes',
    '1 h x',
  ])('rejects %j', (text) => {
    expect(durationMs(text)).toBeUndefined()
    expect(DurationSchema.safeParse(text).success).toBe(false)
  })

  it('zero is a duration (a grace of "0 minutes") but not a positive one (a repeat interval)', () => {
    expect(DurationSchema.parse('0 minutes')).toBe('0 minutes')
    const refused = PositiveDurationSchema.safeParse('0 hours')
    expect(refused.success).toBe(false)
    expect(refused.error?.issues).toEqual([
      expect.objectContaining({ message: 'must be longer than zero' }),
    ])
  })

  it('one issue for a malformed duration, naming the units', () => {
    const refused = PositiveDurationSchema.safeParse('1 month')
    expect(refused.error?.issues).toHaveLength(1)
    expect(refused.error?.issues[0]?.message).toMatch(/seconds, minutes, hours, days, weeks/)
  })

  it('formats how long an incident lasted', () => {
    expect(formatDuration(20 * 1000)).toBe('under a minute')
    expect(formatDuration(45 * MINUTE)).toBe('45 minutes')
    expect(formatDuration(3 * HOUR + 5 * MINUTE)).toBe('3 hours 5 minutes')
    expect(formatDuration(26 * HOUR)).toBe('1 day 2 hours')
  })
})
