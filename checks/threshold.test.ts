import { describe, expect, it } from 'vitest'
import { evaluateThreshold, ThresholdSchema } from './threshold.ts'

const m = (value: number, ratio?: number) => ({
  value,
  details: ratio === undefined ? {} : { ratio },
})

describe('evaluateThreshold', () => {
  it('fails when the value is above fail, warns when above warn, else passes', () => {
    const t = { warn: 0, fail: 100, metric: 'count' as const }
    expect(evaluateThreshold(t, m(0))).toBe('pass')
    expect(evaluateThreshold(t, m(1))).toBe('warn')
    expect(evaluateThreshold(t, m(100))).toBe('warn')
    expect(evaluateThreshold(t, m(101))).toBe('fail')
  })

  it('default threshold: fail as soon as the value is above 0', () => {
    expect(evaluateThreshold({ fail: 0, metric: 'count' }, m(0))).toBe('pass')
    expect(evaluateThreshold({ fail: 0, metric: 'count' }, m(1))).toBe('fail')
  })

  it('warn only: never fails', () => {
    expect(evaluateThreshold({ warn: 5, metric: 'count' }, m(1000))).toBe('warn')
  })

  it('metric ratio compares details.ratio, not the value', () => {
    const t = { warn: 0, fail: 0.01, metric: 'ratio' as const }
    expect(evaluateThreshold(t, m(150, 0.05))).toBe('fail')
    expect(evaluateThreshold(t, m(150, 0.005))).toBe('warn')
    expect(evaluateThreshold(t, m(0, 0))).toBe('pass')
    expect(() => evaluateThreshold(t, m(3))).toThrow(/details.ratio/)
  })
})

describe('ThresholdSchema', () => {
  it.each([
    [{}, ''],
    [{ metric: 'ratio' }, ''],
    [{ warn: 10, fail: 5 }, 'warn'],
  ])('refuses a threshold that can never fire or warns after failing: %j', (input, path) => {
    const parsed = ThresholdSchema.safeParse(input)
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual([path])
  })

  it.each([
    [{ warn: 0 }],
    [{ fail: 0 }],
    [{ warn: 5, fail: 5 }],
    [{ warn: 0, fail: 0.01, metric: 'ratio' }],
  ])('accepts %j', (input) => {
    expect(ThresholdSchema.safeParse(input).success).toBe(true)
  })
})
