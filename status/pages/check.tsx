/**
 * A check's page: what it checks (description, kind, definition, threshold),
 * its latest result with the sample rows, a 30-day chart, its recent results,
 * how to reproduce it, and "Run now": a form POST with the session's CSRF
 * token that runs it and comes back here (post/redirect/get) with the result.
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { RUNNER_FIELDS } from '../../checks/fields.ts'
import { type HistoryEntry, keyFigure } from '../../checks/result.ts'
import { describeSeries, HistoryChart } from '../components/chart.tsx'
import { Layout } from '../components/layout.tsx'
import { StatusBadge } from '../components/status.tsx'
import { Ago } from '../components/time.tsx'
import type { Viewer } from '../session.ts'
import type { CheckData } from '../store.ts'
import {
  figureOf,
  formatFigure,
  shownThreshold,
  statusOf,
  thresholdText,
  utcText,
} from '../view.ts'

/** What the page says above everything after "Run now". */
export type RunNotice =
  | { kind: 'ran'; runId: string }
  | { kind: 'busy' }
  | { kind: 'unrecorded'; result: HistoryEntry | undefined; problem: string }

/**
 * A check that has history but is no longer in the catalog (removed, or its
 * registry row is gone): what its last result recorded about it.
 */
export type RetiredCheck = {
  retired: true
  name: string
  kind: string
  threshold: HistoryEntry['threshold']
  severity: string | null
  owner: string | null
}

/** A retired check as its latest result describes it. */
export function retiredCheck(name: string, latest: HistoryEntry): RetiredCheck {
  return {
    retired: true,
    name,
    kind: latest.kind,
    threshold: latest.threshold,
    severity: latest.severity,
    owner: latest.owner,
  }
}

export const CheckPage = (props: {
  check: ResolvedCheck | RetiredCheck
  data: CheckData
  viewer: Viewer
  notice?: RunNotice | undefined
  origin: string
}) => {
  const { check, data } = props
  const latest = data.latest
  const status = statusOf(latest)
  const open = data.alerts.filter((a) => a.status !== 'pass')
  return (
    <Layout title={check.name} section="check" viewer={props.viewer}>
      <p class="muted">
        <a href="/">Overview</a> › check
      </p>
      <h1>
        {check.name} <StatusBadge status={status} />
      </h1>
      {'retired' in check ? (
        <p class="panel" role="status">
          This check is no longer in the catalog (it was removed, or the registry row it was
          generated from is gone): it does not run any more, and its history is kept.
        </p>
      ) : (
        <>
          {check.description ? <p>{check.description}</p> : null}
          <Notice notice={props.notice} latest={latest} now={data.now} />
          <form method="post" action={`/check/${encodeURIComponent(check.name)}/run`}>
            <input type="hidden" name="csrf" value={props.viewer.csrf} />
            <button type="submit">Run now</button>{' '}
            <span class="hint">
              Runs this check against the database now and records the result (no Slack).
            </span>
          </form>
        </>
      )}

      <h2>Latest result</h2>
      {latest ? (
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={status} />
          </dd>
          <dt>{shownThreshold(check).metric === 'ratio' ? 'Ratio' : 'Value'}</dt>
          <dd>
            <strong>
              {formatFigure(figureOf(shownThreshold(check), latest), shownThreshold(check).metric)}
            </strong>{' '}
            {keyFigure(latest)}
          </dd>
          <dt>Ran</dt>
          <dd>
            <Ago at={latest.started_at} now={data.now} /> ({utcText(latest.started_at)},{' '}
            {latest.trigger}, {latest.duration_ms} ms)
          </dd>
          {open.length ? (
            <>
              <dt>Incident</dt>
              <dd>
                {open.map((a) => (
                  <span>
                    {a.alert_kind === 'error' ? 'could not run' : a.status} since{' '}
                    <Ago at={a.opened_at} now={data.now} />{' '}
                  </span>
                ))}
              </dd>
            </>
          ) : null}
        </dl>
      ) : (
        <p>This check has not run yet: use "Run now", or wait for its schedule.</p>
      )}

      <h2>Last 30 days</h2>
      <figure>
        <HistoryChart series={data.series} threshold={shownThreshold(check)} name={check.name} />
        <figcaption class="muted">
          {describeSeries(data.series, shownThreshold(check))}. One point per{' '}
          {Math.round(data.series.grid.step / 3600)} hours: its highest figure, marked by its worst
          status (● pass, ▲ warn, ■ fail, ✕ error); a bar spans the bucket's lowest to highest
          figure; dashed lines are the thresholds; a shaded band is the anomaly detector's expected
          range.
        </figcaption>
      </figure>

      {latest && latest.sample.length > 0 ? (
        <>
          <h2>Sample rows</h2>
          <SampleTable sample={latest.sample} />
        </>
      ) : null}

      {latest && Object.keys(latest.details).length > 0 ? (
        <>
          <h2>Details</h2>
          <dl class="facts">
            {Object.entries(latest.details).map(([key, value]) => (
              <>
                <dt>{key}</dt>
                <dd>
                  <code>{cell(value)}</code>
                </dd>
              </>
            ))}
          </dl>
        </>
      ) : null}

      <h2>{'retired' in check ? 'Definition, as last recorded' : 'Definition'}</h2>
      <dl class="facts">
        <dt>Kind</dt>
        <dd>{check.kind}</dd>
        <dt>Threshold</dt>
        <dd>{thresholdText(check.threshold)}</dd>
        <dt>Severity</dt>
        <dd>{check.severity ?? '–'}</dd>
        <dt>Owner</dt>
        <dd>{check.owner ?? '–'}</dd>
        {'retired' in check ? null : (
          <>
            <dt>Tags</dt>
            <dd>{check.tags.join(', ') || '–'}</dd>
            <dt>Schedule</dt>
            <dd>
              <code>{check.schedule}</code> (UTC){check.enabled ? '' : ', disabled'}
            </dd>
          </>
        )}
      </dl>
      {'retired' in check ? (
        <>
          <h2>Its history</h2>
          <pre>
            <code>{`dq history --check ${check.name} --db "$DQ_DATABASE_URL"`}</code>
          </pre>
        </>
      ) : (
        <>
          <pre>
            <code>{JSON.stringify(definition(check), null, 2)}</code>
          </pre>
          <h2>Reproduce</h2>
          <pre>
            <code>{`dq run --check ${check.name} --db "$DQ_DATABASE_URL"\n\ncurl -X POST -H "Authorization: Bearer $DQ_API_TOKEN" \\\n  ${props.origin}/checks/${check.name}/run`}</code>
          </pre>
        </>
      )}

      <h2>Recent results</h2>
      <RecentResults results={data.recent} now={data.now} />
    </Layout>
  )
}

/** The check's own fields: what it measures, without the runner's. */
function definition(check: ResolvedCheck): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(check).filter(
      ([field]) => field === 'kind' || !['name', ...RUNNER_FIELDS].includes(field),
    ),
  )
}

const Notice = (props: {
  notice: RunNotice | undefined
  latest: HistoryEntry | null
  now: string
}) => {
  const { notice } = props
  if (!notice) return null
  if (notice.kind === 'busy') {
    return (
      <p class="notice bad" role="status">
        This check is already running (another run holds it), so it was not run again. Reload in a
        moment to see that run's result.
      </p>
    )
  }
  if (notice.kind === 'unrecorded') {
    return (
      <p class="notice bad" role="status">
        The check ran
        {notice.result ? (
          <>
            {' '}
            (<StatusBadge status={notice.result.status} /> {keyFigure(notice.result)})
          </>
        ) : null}{' '}
        but its result could not be written to history: {notice.problem}
      </p>
    )
  }
  const mine = props.latest?.run_id === notice.runId
  return (
    <p class="notice good" role="status">
      {mine && props.latest ? (
        <>
          Ran just now: <StatusBadge status={props.latest.status} /> {keyFigure(props.latest)}
        </>
      ) : (
        <>Your run finished; a newer result has been recorded since and is shown below.</>
      )}
    </p>
  )
}

/** A value in a cell: text as is, anything else as JSON. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

const SampleTable = (props: { sample: unknown[] }) => {
  const rows = props.sample.map((row) =>
    row !== null && typeof row === 'object' && !Array.isArray(row)
      ? (row as Record<string, unknown>)
      : { value: row },
  )
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  return (
    <div class="table-wrap">
      <table>
        <caption>Up to 5 offending rows from the latest run</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col">{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr>
              {columns.map((column) => (
                <td>
                  <code>{column in row ? cell(row[column]) : ''}</code>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

const RecentResults = (props: { results: HistoryEntry[]; now: string }) =>
  props.results.length === 0 ? (
    <p>No results yet.</p>
  ) : (
    <div class="table-wrap">
      <table class="cards">
        <caption>
          {props.results.length === 1
            ? 'The only result so far'
            : `The last ${props.results.length} results, newest first`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Value
            </th>
            <th scope="col">What</th>
            <th scope="col">Trigger</th>
          </tr>
        </thead>
        <tbody>
          {props.results.map((result) => (
            <tr>
              <td data-label="Started">
                <Ago at={result.started_at} now={props.now} />
              </td>
              <td data-label="Status">
                <StatusBadge status={result.status} />
              </td>
              <td data-label="Value" class="num">
                {formatFigure(result.value, 'count')}
              </td>
              <td data-label="What">{keyFigure(result)}</td>
              <td data-label="Trigger">{result.trigger}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
