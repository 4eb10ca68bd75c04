// The heartbeat a scheduled tick leaves: the gap to the next tick, and the
// deadline (the tick after the next) past which the monitor is stale.
import { describe, expect, it } from 'vitest'
import { cronHeartbeat } from './index.ts'

const HOUR = 3600
const DAY = 24 * HOUR

describe('cronHeartbeat', () => {
  it.each([
    // cron, at, beat_at, seconds to the next tick, stale after
    ['0 * * * *', '2026-11-23T03:00:00Z', '2026-11-23T03:00:00Z', HOUR, '2026-11-23T05:00:00Z'],
    // a late delivery belongs to its tick
    ['0 * * * *', '2026-11-23T03:00:42Z', '2026-11-23T03:00:00Z', HOUR, '2026-11-23T05:00:00Z'],
    ['*/15 * * * *', '2026-11-23T03:15:00Z', '2026-11-23T03:15:00Z', 900, '2026-11-23T03:45:00Z'],
    [
      '0 */6 * * *',
      '2026-11-23T06:00:00Z',
      '2026-11-23T06:00:00Z',
      6 * HOUR,
      '2026-11-23T18:00:00Z',
    ],
    // weekdays: Thursday expects Friday; Friday expects Monday, stale after Tuesday's tick
    ['0 9 * * 1-5', '2026-11-19T09:00:00Z', '2026-11-19T09:00:00Z', DAY, '2026-11-23T09:00:00Z'],
    [
      '0 9 * * 1-5',
      '2026-11-20T09:00:00Z',
      '2026-11-20T09:00:00Z',
      3 * DAY,
      '2026-11-24T09:00:00Z',
    ],
    ['0 9 * * 1-5', '2026-11-23T09:00:00Z', '2026-11-23T09:00:00Z', DAY, '2026-11-25T09:00:00Z'],
    // uneven: 09:00 expects 12:00 (3 h), 12:00 expects 09:00 tomorrow (21 h)
    [
      '0 9,12 * * *',
      '2026-11-23T09:00:00Z',
      '2026-11-23T09:00:00Z',
      3 * HOUR,
      '2026-11-24T09:00:00Z',
    ],
    [
      '0 9,12 * * *',
      '2026-11-23T12:00:00Z',
      '2026-11-23T12:00:00Z',
      21 * HOUR,
      '2026-11-24T12:00:00Z',
    ],
    // a manual event between ticks (wrangler dev's /__scheduled) beats for the current tick
    [
      '0 9,12 * * *',
      '2026-11-23T10:30:00Z',
      '2026-11-23T09:00:00Z',
      3 * HOUR,
      '2026-11-24T09:00:00Z',
    ],
  ])('%s at %s', (cron, at, beatAt, seconds, staleAfter) => {
    expect(cronHeartbeat(cron, new Date(at))).toEqual({
      beat_at: new Date(beatAt).toISOString(),
      interval_seconds: seconds,
      stale_after: new Date(staleAfter).toISOString(),
    })
  })

  it('an empty or invalid expression (a hand-made event) has no heartbeat', () => {
    expect(cronHeartbeat('', new Date())).toBeUndefined()
    expect(cronHeartbeat('every hour', new Date())).toBeUndefined()
  })
})
