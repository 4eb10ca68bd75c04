// The status of a measurement: the kind's verdict first, then the threshold.
import { describe, expect, it } from 'vitest'
import { DqError } from '../kernel/errors.ts'
import { measuredStatus } from './result.ts'

const threshold = { warn: 24, fail: 48, metric: 'count' } as const

describe('measuredStatus', () => {
  it('the threshold decides when the kind gives no verdict', () => {
    expect(measuredStatus({ kind: 'freshness', threshold }, m(72, { age_hours: 72 }))).toBe('fail')
    expect(measuredStatus({ kind: 'freshness', threshold }, m(30, { age_hours: 30 }))).toBe('warn')
    expect(measuredStatus({ kind: 'rows', threshold }, m(0, {}))).toBe('pass')
  })

  it("the kind's verdict wins: freshness of an empty table fails whatever the threshold", () => {
    const empty = m(null, { newest: null, age_hours: null, reason: 'no_rows' })
    expect(
      measuredStatus({ kind: 'freshness', threshold: { fail: 1e9, metric: 'count' } }, empty),
    ).toBe('fail')
  })

  it('a null value its kind does not judge is an error, never a pass', () => {
    expect(() => measuredStatus({ kind: 'rows', threshold }, m(null, {}))).toThrow(DqError)
    expect(() => measuredStatus({ kind: 'freshness', threshold }, m(null, {}))).toThrow(
      'the freshness check measured no value',
    )
  })
})

function m(value: number | null, details: Record<string, unknown>) {
  return { value, details, sample: [] }
}
