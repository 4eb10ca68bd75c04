/**
 * The overview: open incidents first, the monitor's heartbeat, then every
 * check (worst first) with its status, value, last run, owner, tags and a
 * 30-day sparkline. Filters by status, tag and owner are links, so a filtered
 * view is a URL to share.
 */
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { keyFigure } from '../../checks/result.ts'
import { Sparkline } from '../components/chart.tsx'
import { Layout } from '../components/layout.tsx'
import { StatusBadge, StatusIcon, statusWord } from '../components/status.tsx'
import { Ago } from '../components/time.tsx'
import type { Viewer } from '../session.ts'
import type { Incident, Monitor, OverviewData } from '../store.ts'
import {
  applyFilters,
  distinct,
  type Filters,
  figureOf,
  filterHref,
  formatFigure,
  PAGE_STATUSES,
  type PageStatus,
  relativeTime,
  shownThreshold,
  statusOf,
} from '../view.ts'

export const OverviewPage = (props: {
  checks: readonly ResolvedCheck[]
  data: OverviewData
  filters: Filters
  viewer: Viewer
}) => {
  const { checks, data, filters } = props
  const shown = applyFilters(checks, data.latest, filters)
  const counts = new Map<PageStatus, number>()
  for (const check of checks) {
    const status = statusOf(data.latest[check.name])
    counts.set(status, (counts.get(status) ?? 0) + 1)
  }
  return (
    <Layout title="Overview" section="overview" viewer={props.viewer}>
      <h1>Data quality</h1>
      <ul class="summary" aria-label="Checks by status">
        {PAGE_STATUSES.filter((s) => counts.get(s)).map((status) => (
          <li>
            <a href={filterHref({}, { status })} class={`badge ${status}`}>
              <StatusIcon status={status} />
              {`${counts.get(status)} ${statusWord(status)}`}
            </a>
          </li>
        ))}
      </ul>
      <Incidents incidents={data.incidents} now={data.now} />
      <Heartbeat monitor={data.monitor} now={data.now} />
      <section aria-labelledby="checks-heading">
        <h2 id="checks-heading">Checks</h2>
        <FilterLinks checks={checks} filters={filters} counts={counts} />
        <p class="muted" role="status">
          {`Showing ${shown.length} of ${checks.length} checks`}
          {filters.status || filters.tag || filters.owner ? (
            <>
              {' · '}
              <a href="/">Clear filters</a>
            </>
          ) : null}
        </p>
        {shown.length === 0 ? (
          <p>No check matches these filters.</p>
        ) : (
          <div class="table-wrap">
            <table class="cards checks">
              <caption>Each check's latest result and its last 30 days</caption>
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Check</th>
                  <th scope="col" class="num">
                    Value
                  </th>
                  <th scope="col">Trend, 30 days</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Tags</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((check) => (
                  <CheckRow check={check} data={data} filters={filters} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  )
}

const CheckRow = (props: { check: ResolvedCheck; data: OverviewData; filters: Filters }) => {
  const { check, data } = props
  const latest = data.latest[check.name]
  const status = statusOf(latest)
  return (
    <tr id={`check-${check.name}`}>
      <td data-label="Status">
        <StatusBadge status={status} />
      </td>
      <td data-label="Check">
        <a class="name" href={`/check/${encodeURIComponent(check.name)}`}>
          {check.name}
        </a>
        {check.enabled ? null : <span class="muted"> (disabled)</span>}
        {check.description ? <div class="muted">{check.description}</div> : null}
      </td>
      <td data-label="Value" class="num">
        <strong>
          {formatFigure(figureOf(shownThreshold(check), latest), shownThreshold(check).metric)}
        </strong>
        {latest ? <div class="muted">{keyFigure(latest)}</div> : null}
      </td>
      <td data-label="Trend">
        <Sparkline
          series={data.series[check.name]}
          threshold={shownThreshold(check)}
          name={check.name}
        />
      </td>
      <td data-label="Last run" class="when">
        {latest ? (
          <>
            <Ago at={latest.started_at} now={data.now} />
            <div class="muted">{latest.trigger}</div>
          </>
        ) : (
          'never'
        )}
      </td>
      <td data-label="Owner">
        {check.owner ? (
          <a href={filterHref(props.filters, { owner: check.owner })}>{check.owner}</a>
        ) : (
          '–'
        )}
      </td>
      <td data-label="Tags">
        <ul class="tags">
          {check.tags.map((tag) => (
            <li>
              <a href={filterHref(props.filters, { tag })}>{tag}</a>
            </li>
          ))}
        </ul>
      </td>
    </tr>
  )
}

const Incidents = (props: { incidents: Incident[]; now: string }) => (
  <section aria-labelledby="incidents-heading">
    <h2 id="incidents-heading">Open incidents</h2>
    {props.incidents.length === 0 ? (
      <p class="panel">
        No open incidents. An incident opens when a notifying run (the Worker's cron, or{' '}
        <code>dq run --notify</code>) sees a check warn, fail or error, and closes when it recovers.
      </p>
    ) : (
      <div class="table-wrap">
        <table class="cards">
          <caption>Alerts firing now, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Check</th>
              <th scope="col">Since</th>
              <th scope="col">Last notified</th>
            </tr>
          </thead>
          <tbody>
            {props.incidents.map((incident) => (
              <tr>
                <td data-label="Status">
                  <StatusBadge status={incident.status} />
                </td>
                <td data-label="Check">
                  {incident.check ? (
                    <a class="name" href={`/check/${encodeURIComponent(incident.check)}`}>
                      {incident.check}
                    </a>
                  ) : (
                    <span class="name">the monitor itself (no scheduled run)</span>
                  )}
                  {incident.alert_kind === 'error' ? <div class="muted">could not run</div> : null}
                </td>
                <td data-label="Since">
                  <Ago at={incident.opened_at} now={props.now} />
                </td>
                <td data-label="Last notified">
                  <Ago at={incident.last_notified_at} now={props.now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    )}
  </section>
)

const Heartbeat = (props: { monitor: Monitor; now: string }) => {
  const { monitor } = props
  return (
    <section aria-labelledby="monitor-heading">
      <h2 id="monitor-heading">Scheduled monitor</h2>
      <p class="panel">
        {monitor.last_beat_at === null ? (
          <>
            <StatusBadge status="none" /> No scheduled run has left a heartbeat yet: the Worker's
            cron leaves one at every tick (ad hoc runs, <code>dq run</code> and{' '}
            <code>dq serve</code>, do not).
          </>
        ) : monitor.stale ? (
          <>
            <StatusBadge status="fail" /> Stale: the last scheduled tick was{' '}
            <Ago at={monitor.last_beat_at} now={props.now} />, and two ticks of its cron have passed
            without a run since.
          </>
        ) : (
          <>
            <StatusBadge status="pass" /> Alive: the last scheduled tick was{' '}
            <Ago at={monitor.last_beat_at} now={props.now} />
            {monitor.stale_after
              ? `; without a run, it is stale ${relativeTime(monitor.stale_after, props.now)}.`
              : '.'}
          </>
        )}
      </p>
    </section>
  )
}

const FilterLinks = (props: {
  checks: readonly ResolvedCheck[]
  filters: Filters
  counts: Map<PageStatus, number>
}) => {
  const { filters } = props
  const tags = distinct(props.checks.flatMap((c) => c.tags))
  const owners = distinct(props.checks.map((c) => c.owner))
  const Row = (row: {
    label: string
    field: keyof Filters
    values: { value: string; text: string }[]
  }) => (
    <div>
      <span class="label" id={`filter-${row.field}`}>
        {row.label}
      </span>
      <ul aria-labelledby={`filter-${row.field}`}>
        <li>
          <a
            href={filterHref(filters, { [row.field]: undefined })}
            aria-current={filters[row.field] ? undefined : 'true'}
          >
            All
          </a>
        </li>
        {row.values.map(({ value, text }) => (
          <li>
            <a
              href={filterHref(filters, { [row.field]: value })}
              aria-current={filters[row.field] === value ? 'true' : undefined}
            >
              {text}
            </a>
          </li>
        ))}
      </ul>
    </div>
  )
  return (
    <nav class="filters" aria-label="Filters">
      <Row
        label="Status"
        field="status"
        values={PAGE_STATUSES.map((status) => ({
          value: status,
          text: `${statusWord(status)} (${props.counts.get(status) ?? 0})`,
        }))}
      />
      {tags.length ? (
        <Row label="Tag" field="tag" values={tags.map((t) => ({ value: t, text: t }))} />
      ) : null}
      {owners.length ? (
        <Row label="Owner" field="owner" values={owners.map((o) => ({ value: o, text: o }))} />
      ) : null}
    </nav>
  )
}
