/**
 * How an anomaly test reads to a person: the figure, the range it was
 * expected in, and the last figures as a Unicode sparkline. One module for
 * every surface: the volume kind's figure and keyFigure (so the CLI table,
 * `dq history` and the status page), and the Slack message's figure line.
 *
 * @example
 * ```ts
 * expectedText({ figure: 79, low: 162.06, high: 197.94, recent: [182, 187, 171, 176, 181, 186, 79] })
 * // '79 (expected 162.1–197.9) ▇█▇▇▇█▁'
 * zText(-16.886) // '−16.89'
 * ```
 */

const BARS = '▁▂▃▄▅▆▇█'

/** Each value as one of eight bars, scaled from the smallest to the largest shown. */
function sparkline(values: readonly number[]): string {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return ''
  const min = Math.min(...finite)
  const span = Math.max(...finite) - min
  return finite
    .map((v) => BARS[span === 0 ? 3 : Math.round(((v - min) / span) * (BARS.length - 1))])
    .join('')
}

/** 79, 162.1, 12,345: one decimal below 1,000 (a mean or a bound), whole above. */
function plainNumber(value: number): string {
  return Math.abs(value) >= 1000 || Number.isInteger(value)
    ? Math.round(value).toLocaleString('en-US')
    : value.toFixed(1)
}

/** A figure that cannot go below zero (a count, a ratio) is never expected below it. */
export function rangeText(
  low: number,
  high: number,
  format: (value: number) => string = plainNumber,
): string {
  return `${format(Math.max(low, 0))}–${format(high)}`
}

export type Expectation = {
  figure: number
  low: number | null | undefined
  high: number | null | undefined
  /** The last figures, oldest first, this one last. */
  recent?: readonly number[] | undefined
  format?: (value: number) => string
}

/** "79 (expected 162.1–197.9) ▇█▇▇▇█▁"; without a range (too little training), the figure alone. */
export function expectedText(e: Expectation): string {
  const format = e.format ?? plainNumber
  const range =
    typeof e.low === 'number' && typeof e.high === 'number'
      ? ` (expected ${rangeText(e.low, e.high, format)})`
      : ''
  const spark = e.recent && e.recent.length > 1 ? ` ${sparkline(e.recent)}` : ''
  return `${format(e.figure)}${range}${spark}`
}

/** −16.89 (a real minus sign, as a person writes it). */
export function zText(z: number | null | undefined): string {
  if (typeof z !== 'number') return 'n/a'
  return z < 0 ? `−${Math.abs(z).toFixed(2)}` : z.toFixed(2)
}
