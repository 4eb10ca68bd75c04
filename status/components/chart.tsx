/**
 * Inline SVG charts of a series (status/store.ts): the overview's sparkline
 * and a check's 30-day chart. Both draw the threshold's lines and the anomaly
 * band where results report one (details.anomaly.expected); each says in words
 * what it shows (role="img" with a label), so the picture is never the only
 * way to read it. No script: the SVG is the page's markup.
 */
import type { Threshold } from '../../checks/catalog.ts'
import type { Point, Series } from '../store.ts'
import { formatFigure, utcText } from '../view.ts'

type Scale = { x: (index: number) => number; y: (value: number) => number }

/** The y range: every figure, band edge and threshold line, and zero. */
function domain(points: readonly Point[], threshold: Threshold): [number, number] {
  const values = [0]
  for (const p of points) {
    if (p.high !== null) values.push(p.high)
    if (typeof p.low === 'number') values.push(p.low)
    if (p.band) values.push(...p.band)
  }
  if (threshold.warn !== undefined) values.push(threshold.warn)
  if (threshold.fail !== undefined) values.push(threshold.fail)
  const low = Math.min(...values)
  const high = Math.max(...values)
  return high > low ? [low, high] : [low, low + 1]
}

function scale(
  series: Series,
  threshold: Threshold,
  box: { left: number; top: number; width: number; height: number },
): Scale {
  const [low, high] = domain(series.points, threshold)
  const last = Math.max(series.grid.points - 1, 1)
  return {
    x: (index) => box.left + (index / last) * box.width,
    y: (value) => box.top + box.height - ((value - low) / (high - low)) * box.height,
  }
}

const round = (n: number) => Math.round(n * 10) / 10

/** Runs of consecutive buckets: a gap in the history is a gap in the line. */
function runs<T extends Point>(points: readonly T[], keep: (p: T) => boolean): T[][] {
  const result: T[][] = []
  let current: T[] = []
  let previous: number | undefined
  for (const point of points) {
    if (!keep(point) || (previous !== undefined && point.index !== previous + 1)) {
      if (current.length) result.push(current)
      current = []
    }
    if (keep(point)) current.push(point)
    previous = point.index
  }
  if (current.length) result.push(current)
  return result
}

function bandPolygons(points: readonly Point[], s: Scale): string[] {
  return runs(points, (p) => Boolean(p.band)).map((run) => {
    const top = run.map((p) => `${round(s.x(p.index))},${round(s.y(p.band?.[1] ?? 0))}`)
    const bottom = [...run]
      .reverse()
      .map((p) => `${round(s.x(p.index))},${round(s.y(p.band?.[0] ?? 0))}`)
    // A band of one bucket is drawn as a thin bar.
    if (run.length === 1) {
      const x = s.x(run[0]?.index ?? 0)
      return `${round(x - 1.5)},${round(s.y(run[0]?.band?.[1] ?? 0))} ${round(x + 1.5)},${round(s.y(run[0]?.band?.[1] ?? 0))} ${round(x + 1.5)},${round(s.y(run[0]?.band?.[0] ?? 0))} ${round(x - 1.5)},${round(s.y(run[0]?.band?.[0] ?? 0))}`
    }
    return [...top, ...bottom].join(' ')
  })
}

/**
 * The vertices of a line through consecutive points: where it stays level
 * only its ends are kept (the same line, a fraction of the markup: most checks
 * sit flat at 0 for days).
 */
function vertices(run: readonly Point[], s: Scale): string {
  const kept = run.filter(
    (p, k) =>
      k === 0 || k === run.length - 1 || p.high !== run[k - 1]?.high || p.high !== run[k + 1]?.high,
  )
  return kept.map((p) => `${round(s.x(p.index))},${round(s.y(p.high ?? 0))}`).join(' ')
}

const Lines = (props: { points: readonly Point[]; s: Scale; class: string }) =>
  runs(props.points, (p) => p.high !== null).map((run) =>
    run.length === 1 ? (
      <circle
        class={props.class}
        cx={round(props.s.x(run[0]?.index ?? 0))}
        cy={round(props.s.y(run[0]?.high ?? 0))}
        r="1.5"
      />
    ) : (
      <polyline class={props.class} points={vertices(run, props.s)} />
    ),
  )

const ThresholdLines = (props: {
  threshold: Threshold
  s: Scale
  from: number
  to: number
  labels?: boolean
}) => {
  const lines = (['fail', 'warn'] as const).flatMap((kind) => {
    const value = props.threshold[kind]
    return value === undefined ? [] : [{ kind, value, y: round(props.s.y(value)) }]
  })
  // Labels apart (fail at the right end, warn left of it), so close lines never overprint them.
  return lines.map((line) => (
    <g class={`threshold ${line.kind}`}>
      <line x1={props.from} x2={props.to} y1={line.y} y2={line.y} />
      {props.labels ? (
        <text
          x={line.kind === 'fail' ? props.to - 2 : props.to - 110}
          y={line.y - 3}
          text-anchor="end"
        >
          {`${line.kind} > ${formatFigure(line.value, props.threshold.metric)}`}
        </text>
      ) : null}
    </g>
  ))
}

/** What a chart shows, in words: its label for screen readers and its tooltip. */
export function describeSeries(series: Series, threshold: Threshold): string {
  const measured = series.points.filter((p) => p.high !== null)
  if (measured.length === 0) return 'no results in the last 30 days'
  const highs = measured.map((p) => p.high as number)
  const metric = threshold.metric
  const failing = series.points.filter((p) => p.status === 'fail' || p.status === 'error').length
  const bands = series.points.some((p) => p.band) ? '; anomaly band drawn' : ''
  return `30 days, ${measured.length} ${measured.length === 1 ? 'point' : 'points'}: from ${formatFigure(highs[0], metric)} to ${formatFigure(highs.at(-1), metric)}, highest ${formatFigure(Math.max(...highs), metric)}; ${failing} failing or erroring${bands}`
}

/** The overview's sparkline: 120 × 28, line, threshold lines, anomaly band, last point. */
export const Sparkline = (props: {
  series: Series | undefined
  threshold: Threshold
  name: string
}) => {
  const series = props.series ?? { grid: { start: 0, step: 1, points: 1 }, points: [] }
  const box = { left: 2, top: 3, width: 116, height: 22 }
  const s = scale(series, props.threshold, box)
  const last = series.points.findLast((p) => p.high !== null)
  const label = `${props.name}: ${describeSeries(series, props.threshold)}`
  return (
    <svg class="spark" viewBox="0 0 120 28" width="120" height="28" role="img" aria-label={label}>
      {bandPolygons(series.points, s).map((points) => (
        <polygon class="band" points={points} />
      ))}
      <ThresholdLines threshold={props.threshold} s={s} from={box.left} to={box.left + box.width} />
      <Lines points={series.points} s={s} class="line" />
      {last ? (
        <circle
          class={`last ${last.status}`}
          cx={round(s.x(last.index))}
          cy={round(s.y(last.high ?? 0))}
          r="2.5"
        />
      ) : null}
    </svg>
  )
}

/** Marks per status: a shape as well as a colour. */
const Mark = (props: { point: Point; s: Scale }) => {
  const x = round(props.s.x(props.point.index))
  const y = round(props.s.y(props.point.high ?? 0))
  switch (props.point.status) {
    case 'pass':
      return <circle class="mark pass" cx={x} cy={y} r="2.5" />
    case 'warn':
      return (
        <polygon class="mark warn" points={`${x},${y - 4} ${x + 4},${y + 3} ${x - 4},${y + 3}`} />
      )
    case 'fail':
      return <rect class="mark fail" x={x - 3} y={y - 3} width="6" height="6" />
    default:
      return (
        <path
          class="mark error"
          d={`M${x - 3} ${y - 3}L${x + 3} ${y + 3}M${x + 3} ${y - 3}L${x - 3} ${y + 3}`}
        />
      )
  }
}

/**
 * A check's 30-day chart: each point's range (lowest to highest figure in its
 * bucket), the line through the highest, a mark per point whose shape says its
 * worst status, the threshold lines labelled, the anomaly band, dates below.
 */
export const HistoryChart = (props: { series: Series; threshold: Threshold; name: string }) => {
  const { series, threshold } = props
  const box = { left: 8, top: 14, width: 624, height: 170 }
  const s = scale(series, threshold, box)
  const [low, high] = domain(series.points, threshold)
  const start = new Date(series.grid.start * 1000).toISOString()
  const label = `${props.name}: ${describeSeries(series, threshold)}`
  const ranges = series.points.filter(
    (p) => typeof p.low === 'number' && p.high !== null && p.low !== p.high,
  )
  return (
    <svg class="chart" viewBox="0 0 640 214" role="img" aria-label={label}>
      <title>{label}</title>
      <rect class="frame" x={box.left} y={box.top} width={box.width} height={box.height} />
      {bandPolygons(series.points, s).map((points) => (
        <polygon class="band" points={points} />
      ))}
      {ranges.map((p) => (
        <line
          class="range"
          x1={round(s.x(p.index))}
          x2={round(s.x(p.index))}
          y1={round(s.y(p.low as number))}
          y2={round(s.y(p.high as number))}
        />
      ))}
      <ThresholdLines
        threshold={threshold}
        s={s}
        from={box.left}
        to={box.left + box.width}
        labels
      />
      <Lines points={series.points} s={s} class="line" />
      {series.points
        .filter((p) => p.high !== null)
        .map((point) => (
          <Mark point={point} s={s} />
        ))}
      <text class="axis" x={box.left + 2} y={box.top - 3}>
        {formatFigure(high, threshold.metric)}
      </text>
      <text class="axis" x={box.left + 2} y={box.top + box.height + 12}>
        {formatFigure(low, threshold.metric)}
      </text>
      <text class="axis" x={box.left} y={208}>
        {utcText(start).slice(0, 10)}
      </text>
      <text class="axis" x={box.left + box.width} y={208} text-anchor="end">
        now
      </text>
    </svg>
  )
}
