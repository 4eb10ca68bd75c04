// What the pages compute apart from the markup: filters, ordering, figures,
// times, the workflow of a coverage check, where to go after signing in; and
// the charts' SVG (threshold lines, anomaly band, gaps, words for the picture).
import { describe, expect, it } from 'vitest'
import { parseCatalog } from '../checks/catalog.ts'
import type { HistoryEntry } from '../checks/result.ts'
import { describeSeries, HistoryChart, Sparkline } from './components/chart.tsx'
import type { Series } from './store.ts'
import {
  applyFilters,
  figureOf,
  filterHref,
  filtersOf,
  formatFigure,
  relativeTime,
  safeNext,
  thresholdText,
  workflowOf,
} from './view.ts'

const catalog = parseCatalog({
  checks: [
    {
      name: 'b_dups',
      kind: 'duplicates',
      table: 't.b',
      columns: ['x'],
      tags: ['shop'],
      owner: '@a',
    },
    { name: 'a_dups', kind: 'duplicates', table: 't.a', columns: ['x'], tags: ['shop', 'keys'] },
    {
      name: 'gap',
      kind: 'coverage_gap',
      source: { table: 't.a', key: 'x' },
      target: { table: 't.b', key: 'x' },
      threshold: { warn: 0, fail: 0.05, metric: 'ratio' },
      owner: '@b',
    },
    { name: 'never_ran', kind: 'duplicates', table: 't.c', columns: ['x'], owner: '@a' },
  ],
})

const result = (
  check: string,
  status: HistoryEntry['status'],
  value: number,
  details = {},
): HistoryEntry => ({
  check,
  kind: 'duplicates',
  status,
  severity: 'warning',
  owner: null,
  value,
  threshold: { fail: 0, metric: 'count' },
  details,
  sample: [],
  duration_ms: 1,
  error: null,
  error_code: null,
  run_id: '00000000-0000-4000-8000-000000000000',
  trigger: 'cli',
  started_at: '2026-12-01T10:00:00.000Z',
})

const latest = {
  b_dups: result('b_dups', 'fail', 3),
  a_dups: result('a_dups', 'pass', 0),
  gap: result('gap', 'warn', 10, { ratio: 0.02 }),
}

describe('filters', () => {
  it('orders worst first (error, fail, warn, pass, never ran), then by name', () => {
    expect(applyFilters(catalog.checks, latest, {}).map((c) => c.name)).toEqual([
      'b_dups',
      'gap',
      'a_dups',
      'never_ran',
    ])
  })

  it('filter by status, tag and owner, together', () => {
    const names = (f: Parameters<typeof applyFilters>[2]) =>
      applyFilters(catalog.checks, latest, f).map((c) => c.name)
    expect(names({ status: 'fail' })).toEqual(['b_dups'])
    expect(names({ status: 'none' })).toEqual(['never_ran'])
    expect(names({ tag: 'keys' })).toEqual(['a_dups'])
    expect(names({ owner: '@a' })).toEqual(['b_dups', 'never_ran'])
    expect(names({ owner: '@a', tag: 'shop' })).toEqual(['b_dups'])
    expect(names({ owner: '@nobody' })).toEqual([])
  })

  it('come from the query string, and go back into links (an unknown status is ignored)', () => {
    expect(filtersOf({ status: 'fail', tag: 'shop', owner: '@a' })).toEqual({
      status: 'fail',
      tag: 'shop',
      owner: '@a',
    })
    expect(filtersOf({ status: 'nonsense' })).toEqual({})
    expect(filterHref({ status: 'fail' }, { tag: 'a b&c' })).toBe('/?status=fail&tag=a+b%26c')
    expect(filterHref({ status: 'fail', tag: 'x' }, { status: undefined })).toBe('/?tag=x')
    expect(filterHref({}, {})).toBe('/')
  })
})

describe('figures and words', () => {
  it('the figure a threshold compares: the value, or details.ratio; none for an error', () => {
    const [, , gap] = catalog.checks
    expect(figureOf(catalog.checks[0]?.threshold ?? { metric: 'count' }, latest.b_dups)).toBe(3)
    expect(figureOf(gap?.threshold ?? { metric: 'count' }, latest.gap)).toBe(0.02)
    expect(
      figureOf({ metric: 'count' }, { ...latest.b_dups, status: 'error', value: null }),
    ).toBeNull()
    expect(formatFigure(8346, 'count')).toBe('8,346')
    expect(formatFigure(0.192, 'ratio')).toBe('19.2%')
    expect(formatFigure(null, 'count')).toBe('–')
    expect(thresholdText({ warn: 0, fail: 0.05, metric: 'ratio' })).toBe(
      'fail above 5.0%, warn above 0.0% (ratio)',
    )
  })

  it('times relative to the database clock', () => {
    const now = '2026-12-01T13:00:00Z'
    expect(relativeTime('2026-12-01T12:59:50Z', now)).toBe('just now')
    expect(relativeTime('2026-12-01T12:48:00Z', now)).toBe('12 min ago')
    expect(relativeTime('2026-12-01T10:00:00Z', now)).toBe('3 h ago')
    expect(relativeTime('2026-11-26T13:00:00Z', now)).toBe('5 days ago')
    expect(relativeTime('2026-12-01T14:00:00Z', now)).toBe('in 1 h')
  })

  it("a generated check's workflow is its registry row's workflow_name; others are their name", () => {
    const generated = {
      ...catalog.checks[2],
      name: 'person_profile_to_core_gap',
      generated: {
        by: 'generate_to_core_gap',
        from: 'reference.enrichment_workflow_registry',
        row: { workflow_name: 'person_profile' },
      },
    }
    expect(workflowOf(generated)).toBe('person_profile')
    expect(workflowOf({ name: 'gap', generated: { by: 'generate_x', from: 'x', row: {} } })).toBe(
      'gap',
    )
    expect(workflowOf({ name: 'gap' })).toBe('gap')
  })

  it('after signing in, only a path of this site', () => {
    expect(safeNext('/check/x?ran=1')).toBe('/check/x?ran=1')
    for (const bad of [
      '//evil.example/x',
      '/\\evil.example',
      'https://evil.example/',
      'x',
      '',
      undefined,
    ]) {
      expect(safeNext(bad)).toBe('/')
    }
  })
})

describe('charts', () => {
  const series: Series = {
    grid: { start: 0, step: 21600, points: 10 },
    points: [
      { index: 0, high: 5, status: 'pass' },
      { index: 1, high: 7, status: 'warn', band: [4, 6] },
      { index: 2, high: 150, status: 'fail', band: [4, 8] },
      // a gap: no results in buckets 3 to 6
      { index: 7, high: 3, status: 'pass' },
      { index: 8, high: null, status: 'error' },
      { index: 9, high: 2, status: 'pass' },
    ],
  }
  const threshold = { warn: 6, fail: 100, metric: 'count' as const }

  it('a sparkline draws the threshold lines, the anomaly band, and breaks its line at gaps', async () => {
    const svg = String(await Sparkline({ series, threshold, name: 'x' }))
    expect(svg).toContain('role="img"')
    expect(svg).toContain(
      'aria-label="x: 30 days, 5 points: from 5 to 2, highest 150; 2 failing or erroring; anomaly band drawn"',
    )
    expect(svg.match(/class="threshold (fail|warn)"/g)).toHaveLength(2)
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(1)
    // 0-1-2 is one line; 7 is alone (8 has no figure), 9 alone too.
    expect(svg.match(/<polyline class="line"/g)).toHaveLength(1)
    expect(svg.match(/<circle class="line"/g)).toHaveLength(2)
  })

  it("a check's chart marks each point's status by shape, and labels its thresholds", async () => {
    const svg = String(await HistoryChart({ series, threshold, name: 'x' }))
    expect(svg).toContain('class="mark warn"')
    expect(svg).toMatch(/<rect class="mark fail"/)
    expect(svg).toContain('fail &gt; 100')
    expect(svg).toContain('warn &gt; 6')
  })

  it('says so when there is nothing to draw', () => {
    expect(describeSeries({ grid: series.grid, points: [] }, threshold)).toBe(
      'no results in the last 30 days',
    )
  })
})
