import { describe, expect, it } from 'vitest'
import { parseCatalog } from './catalog.ts'
import { cronError, isDue, tickOf } from './cron.ts'
import { dueChecks } from './schedule.ts'

describe('schedules', () => {
  it('isDue matches the minute of the tick, in UTC', () => {
    expect(isDue('0 * * * *', new Date('2026-11-23T06:00:00Z'))).toBe(true)
    expect(isDue('0 * * * *', new Date('2026-11-23T06:00:42Z'))).toBe(true)
    expect(isDue('0 * * * *', new Date('2026-11-23T06:01:00Z'))).toBe(false)
    expect(isDue('0 */6 * * *', new Date('2026-11-23T06:00:00Z'))).toBe(true)
    expect(isDue('0 */6 * * *', new Date('2026-11-23T07:00:00Z'))).toBe(false)
  })

  it('dueChecks keeps the enabled checks whose schedule fires', () => {
    const { checks } = parseCatalog({
      checks: [
        { name: 'hourly', kind: 'duplicates', table: 't', columns: ['a'] },
        {
          name: 'six_hourly',
          kind: 'duplicates',
          table: 't',
          columns: ['a'],
          schedule: '0 */6 * * *',
        },
        { name: 'off', kind: 'duplicates', table: 't', columns: ['a'], enabled: false },
      ],
    })
    expect(dueChecks(checks, new Date('2026-11-23T07:00:00Z')).map((c) => c.name)).toEqual([
      'hourly',
    ])
    expect(dueChecks(checks, new Date('2026-11-23T12:00:00Z')).map((c) => c.name)).toEqual([
      'hourly',
      'six_hourly',
    ])
  })

  it('cronError explains a bad expression; the catalog reports it with its path', () => {
    expect(cronError('0 * * * *')).toBeUndefined()
    expect(cronError('every hour')).toMatch(/five-field/)
    expect(cronError('61 * * * *')).toMatch(/not a valid cron/)
    expect(() =>
      parseCatalog({
        checks: [
          { name: 'x', kind: 'duplicates', table: 't', columns: ['a'], schedule: '61 * * * *' },
        ],
      }),
    ).toThrow(/checks\[0\]\.schedule/)
  })

  it('tickOf maps an event to the tick of its cron it belongs to', () => {
    const at = (iso: string) => new Date(iso)
    // A real delivery: the scheduled minute itself.
    expect(tickOf('0 * * * *', at('2026-11-23T06:00:00Z'))).toEqual(at('2026-11-23T06:00:00Z'))
    expect(tickOf('0 * * * *', at('2026-11-23T06:00:37Z'))).toEqual(at('2026-11-23T06:00:00Z'))
    // A manual trigger mid-hour: the current hourly tick.
    expect(tickOf('0 * * * *', at('2026-11-23T06:47:12Z'))).toEqual(at('2026-11-23T06:00:00Z'))
    expect(tickOf('*/15 * * * *', at('2026-11-23T06:47:12Z'))).toEqual(at('2026-11-23T06:45:00Z'))
    expect(tickOf('0 0 * * *', at('2026-11-23T06:47:12Z'))).toEqual(at('2026-11-23T00:00:00Z'))
    // No usable cron: the minute of the event.
    expect(tickOf('', at('2026-11-23T06:47:12Z'))).toEqual(at('2026-11-23T06:47:00Z'))
  })
})
