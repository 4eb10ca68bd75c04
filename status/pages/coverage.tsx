/**
 * Coverage by workflow: every `coverage_gap` check (those generated from the
 * enrichment registry, one per workflow, and any written by hand) as one
 * table: workflow, rows extracted, rows missing in core, the ratio and its
 * 30-day trend. Worst first: checks that could not run, then the largest gap.
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { Sparkline } from '../components/chart.tsx'
import { Layout } from '../components/layout.tsx'
import { StatusBadge } from '../components/status.tsx'
import { Ago } from '../components/time.tsx'
import type { Viewer } from '../session.ts'
import type { ListData } from '../store.ts'
import { formatFigure, statusOf, workflowOf } from '../view.ts'

type Row = {
  check: ResolvedCheck
  workflow: string
  sourceRows: number | null
  missing: number | null
  ratio: number | null
}

const numberIn = (details: Record<string, unknown> | undefined, key: string) => {
  const value = details?.[key]
  return typeof value === 'number' ? value : null
}

/** Errors first, then the largest ratio, then by workflow. */
function rowsOf(checks: readonly ResolvedCheck[], data: ListData): Row[] {
  return checks
    .map((check) => {
      const latest = data.latest[check.name]
      const details = latest?.status === 'error' ? undefined : latest?.details
      return {
        check,
        workflow: workflowOf(check),
        sourceRows: numberIn(details, 'source_rows'),
        missing: numberIn(details, 'missing'),
        ratio: numberIn(details, 'ratio'),
      }
    })
    .sort((a, b) => {
      const error = (row: Row) => (statusOf(data.latest[row.check.name]) === 'error' ? 1 : 0)
      return (
        error(b) - error(a) ||
        (b.ratio ?? -1) - (a.ratio ?? -1) ||
        a.workflow.localeCompare(b.workflow)
      )
    })
}

export const CoveragePage = (props: {
  checks: readonly ResolvedCheck[]
  data: ListData
  viewer: Viewer
}) => {
  const rows = rowsOf(props.checks, props.data)
  const withGap = rows.filter((r) => (r.missing ?? 0) > 0).length
  const missing = rows.reduce((sum, r) => sum + (r.missing ?? 0), 0)
  const extracted = rows.reduce((sum, r) => sum + (r.sourceRows ?? 0), 0)
  return (
    <Layout title="Coverage by workflow" section="coverage" viewer={props.viewer}>
      <h1>Coverage by workflow</h1>
      <p>
        Rows that reached <code>extracted</code> but never <code>core</code>, per workflow: one{' '}
        <code>coverage_gap</code> check each (generated from the enrichment registry, or written in
        the catalog).
      </p>
      {rows.length === 0 ? (
        <p class="panel">The catalog has no coverage_gap check.</p>
      ) : (
        <>
          <p class="panel">
            {/* Summed over every coverage_gap check, registry-generated or not: rows, not workflows. */}
            {`${withGap} of ${rows.length} checks find a gap: ${formatFigure(missing, 'count')} of ${formatFigure(extracted, 'count')} source rows have no match in their target.`}
          </p>
          <div class="table-wrap">
            <table class="cards">
              <caption>
                Worst first: checks that could not run, then the largest share missing
              </caption>
              <thead>
                <tr>
                  <th scope="col">Workflow</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Extracted rows
                  </th>
                  <th scope="col" class="num">
                    Missing in core
                  </th>
                  <th scope="col" class="num">
                    Ratio
                  </th>
                  <th scope="col">Trend of the ratio, 30 days</th>
                  <th scope="col">Last run</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => {
                  const latest = props.data.latest[row.check.name]
                  // The trend is of the ratio, so only a ratio threshold is drawn on it.
                  const threshold =
                    row.check.threshold?.metric === 'ratio'
                      ? row.check.threshold
                      : { metric: 'ratio' as const }
                  return (
                    <tr>
                      <td data-label="Workflow">
                        <a class="name" href={`/check/${encodeURIComponent(row.check.name)}`}>
                          {row.workflow}
                        </a>
                        {row.workflow === row.check.name ? null : (
                          <div class="muted">{row.check.name}</div>
                        )}
                      </td>
                      <td data-label="Status">
                        <StatusBadge status={statusOf(latest)} />
                        {latest?.status === 'error' ? (
                          <div class="muted">{latest.error}</div>
                        ) : null}
                      </td>
                      <td data-label="Extracted rows" class="num">
                        {formatFigure(row.sourceRows, 'count')}
                      </td>
                      <td data-label="Missing in core" class="num">
                        {formatFigure(row.missing, 'count')}
                      </td>
                      <td data-label="Ratio" class="num">
                        {formatFigure(row.ratio, 'ratio')}
                      </td>
                      <td data-label="Trend">
                        <Sparkline
                          series={props.data.series[row.check.name]}
                          threshold={threshold}
                          name={row.workflow}
                        />
                      </td>
                      <td data-label="Last run">
                        {latest ? <Ago at={latest.started_at} now={props.data.now} /> : 'never'}
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Layout>
  )
}
