/**
 * The Slack message for one run (Block Kit): a header with counts, a section
 * per alert (status, value vs threshold, the figure that matters for its kind,
 * up to 3 sample rows, the owner, the command that reproduces it), a context
 * line (run, trigger, database, time), and a plain `text` fallback, which is
 * all a phone notification shows.
 *
 * Block Kit limits hold whatever the data: at most 50 blocks (alerts beyond
 * MAX_SECTIONS collapse into "+N more"), 3000 characters per section, 150 per
 * header. Data is escaped (`&`, `<`, `>`), so a value can never become a
 * mention or a link; database errors are scrubbed of secrets and truncated.
 *
 * @example
 * ```ts
 * const [message] = renderMessages(decision.alerts, { run_id, trigger: 'cron', started_at, database: 'prod', checks })
 * await webhook.send(message.payload) // { text: 'dq-monitor: 11 failing: ...', blocks: [...] }
 * ```
 */
import type { ResolvedCheck } from '../../../checks/catalog.ts'
import {
  type CheckResult,
  expectedRange,
  keyFigure,
  type RunTrigger,
  type Status,
  statusRank,
} from '../../../checks/result.ts'
import { formatDuration } from '../../../kernel/duration.ts'
import type { Alert } from '../../policy/index.ts'
import type { SlackBlock as Block, Route, SlackPayload } from '../../store/index.ts'
import { codeSpan, errorText, escapeText, truncate, truncateEscaped } from '../text/index.ts'

/** Slack's limits (https://docs.slack.dev/reference/block-kit/blocks). */
export const LIMITS = { blocks: 50, section: 3000, header: 150, text: 3000 } as const
/** Alerts shown as their own section; the rest are listed in one "+N more" section. */
export const MAX_SECTIONS = 20
const SAMPLE_ROWS = 3
const SAMPLE_CHARS = 160

export type MessageContext = {
  run_id: string
  trigger: RunTrigger
  started_at: string
  /** A display name for the database: never a connection string (alerts/config). */
  database: string
  /** The description of each check (by name); owner and severity come with each result. */
  checks: readonly Pick<ResolvedCheck, 'name' | 'description'>[]
}

export type RenderedMessage = {
  route: Route
  payload: SlackPayload
  /** What the message says, for the outbox row and the run's outcome. */
  alerts: { dedup_key: string; transition: Alert['transition']; status: Status }[]
}

/** One message per route that has something to say (a run with no alerts sends none). */
export function renderMessages(
  alerts: readonly Alert[],
  context: MessageContext,
): RenderedMessage[] {
  const routes = [...new Set(alerts.map((a) => a.route))].sort()
  return routes.map((route) => {
    const mine = alerts.filter((a) => a.route === route)
    return {
      route,
      payload: renderMessage(mine, context),
      alerts: mine.map((a) => ({
        dedup_key: a.dedup_key,
        transition: a.transition,
        status: a.status,
      })),
    }
  })
}

export function renderMessage(alerts: readonly Alert[], context: MessageContext): SlackPayload {
  const sorted = sortAlerts(alerts)
  const descriptions = new Map(context.checks.map((c) => [c.name, c.description]))
  const shown = sorted.slice(0, MAX_SECTIONS)
  const rest = sorted.slice(MAX_SECTIONS)
  const blocks: Block[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(headline(sorted), LIMITS.header), emoji: true },
    },
    ...shown.map((alert) =>
      section(alertText(alert, descriptions.get(alert.check ?? ''), context.started_at)),
    ),
  ]
  if (rest.length > 0) {
    const names = rest.map((a) => `${escapeText(a.check ?? 'dq-monitor')} (${shortLabel(a)})`)
    blocks.push(section(`*+${rest.length} more:* ${names.join(', ')}`))
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncateEscaped(contextLine(context), LIMITS.section) }],
  })
  return { text: fallbackText(sorted), blocks }
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: truncateEscaped(text, LIMITS.section) } }
}

const TRANSITION_ORDER = { firing: 0, reminder: 1, resolved: 2 } as const

/** The monitor first, then new incidents (worst first, critical first), reminders, recoveries. */
function sortAlerts(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort(
    (a, b) =>
      Number(b.alert_kind === 'stale') - Number(a.alert_kind === 'stale') ||
      TRANSITION_ORDER[a.transition] - TRANSITION_ORDER[b.transition] ||
      statusRank(b.status) - statusRank(a.status) ||
      Number(b.severity === 'critical') - Number(a.severity === 'critical') ||
      (a.check ?? '').localeCompare(b.check ?? ''),
  )
}

type Counts = {
  failing: number
  warning: number
  error: number
  still: number
  recovered: number
  /** Resolved because the check left the catalog: not a recovery. */
  removed: number
  down: boolean
}

function counts(alerts: readonly Alert[]): Counts {
  const c: Counts = {
    failing: 0,
    warning: 0,
    error: 0,
    still: 0,
    recovered: 0,
    removed: 0,
    down: false,
  }
  for (const a of alerts) {
    if (a.alert_kind === 'stale') c.down = true
    else if (a.transition === 'resolved' && a.removed) c.removed++
    else if (a.transition === 'resolved') c.recovered++
    else if (a.transition === 'reminder') c.still++
    else if (a.status === 'error') c.error++
    else if (a.status === 'fail') c.failing++
    else c.warning++
  }
  return c
}

function headline(alerts: readonly Alert[]): string {
  const c = counts(alerts)
  const parts = [
    c.down ? 'monitor was down' : '',
    c.failing ? `${c.failing} failing` : '',
    c.error ? `${c.error} cannot run` : '',
    c.warning ? `${c.warning} warning` : '',
    c.still ? `${c.still} still broken` : '',
    c.recovered ? `${c.recovered} recovered` : '',
    c.removed ? `${c.removed} no longer checked` : '',
  ].filter(Boolean)
  const icon =
    c.failing || c.error
      ? ':rotating_light:'
      : c.warning || c.still || c.down
        ? ':warning:'
        : c.recovered
          ? ':white_check_mark:'
          : ':heavy_minus_sign:'
  return `${icon} dq-monitor: ${parts.join(', ')}`
}

/** The plain-text fallback: counts and check names, what a phone shows. */
function fallbackText(alerts: readonly Alert[]): string {
  const group = (label: string, picked: Alert[]) => {
    if (picked.length === 0) return ''
    const names = picked.slice(0, 5).map((a) => a.check ?? 'dq-monitor')
    const more = picked.length > 5 ? `, +${picked.length - 5} more` : ''
    return `${picked.length} ${label}: ${names.join(', ')}${more}`
  }
  const checks = alerts.filter((a) => a.alert_kind !== 'stale')
  const parts = [
    checks.length < alerts.length ? 'the monitor was down' : '',
    group(
      'failing',
      checks.filter((a) => a.transition === 'firing' && a.status === 'fail'),
    ),
    group(
      'cannot run',
      checks.filter((a) => a.transition === 'firing' && a.status === 'error'),
    ),
    group(
      'warning',
      checks.filter((a) => a.transition === 'firing' && a.status === 'warn'),
    ),
    group(
      'still broken',
      checks.filter((a) => a.transition === 'reminder'),
    ),
    group(
      'recovered',
      checks.filter((a) => a.transition === 'resolved' && !a.removed),
    ),
    group(
      'no longer checked',
      checks.filter((a) => a.transition === 'resolved' && a.removed),
    ),
  ].filter(Boolean)
  return truncateEscaped(escapeText(`dq-monitor: ${parts.join('; ')}`), LIMITS.text)
}

const EMOJI: Record<Status, string> = {
  fail: ':red_circle:',
  warn: ':large_orange_circle:',
  error: ':warning:',
  pass: ':white_check_mark:',
}

function shortLabel(a: Alert): string {
  if (a.removed) return 'removed'
  if (a.transition === 'resolved') return a.alert_kind === 'error' ? 'runs again' : 'recovered'
  return `${a.status.toUpperCase()}${a.transition === 'reminder' ? ', still' : ', new'}`
}

function when(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`
}

function title(a: Alert, at: string): string {
  const name = `*${escapeText(a.check ?? 'dq-monitor')}*`
  const STATUS = a.status.toUpperCase()
  const lasted = (from: string | null) =>
    from ? ` for ${formatDuration(Date.parse(at) - Date.parse(from))}` : ''
  if (a.removed) {
    return `:heavy_minus_sign: ${name} is no longer checked: it left the catalog, or its registry row is gone (was ${a.previous.toUpperCase()}${lasted(a.opened_at)}); this alert is closed`
  }
  if (a.transition === 'resolved') {
    return a.alert_kind === 'error'
      ? `${EMOJI.pass} ${name} runs again (it could not run${lasted(a.opened_at)}); now ${a.result?.status.toUpperCase() ?? 'PASS'}`
      : `${EMOJI.pass} ${name} recovered: PASS (was ${a.previous.toUpperCase()}${lasted(a.opened_at)})`
  }
  const critical = a.severity === 'critical' ? ' · critical' : ''
  if (a.transition === 'reminder') {
    return `${EMOJI[a.status]} ${name} still ${STATUS}${a.opened_at ? ` since ${when(a.opened_at)}${lasted(a.opened_at)}` : ''}${critical}`
  }
  if (a.status === 'error') return `${EMOJI.error} ${name} cannot run: ERROR${critical}`
  const was = a.previous === 'pass' ? 'new' : `was ${a.previous.toUpperCase()}`
  return `${EMOJI[a.status]} ${name} ${STATUS} (${was})${critical}`
}

const number = (n: number) => n.toLocaleString('en-US')
const percent = (r: number) => `${(r * 100).toFixed(r > 0 && r < 0.001 ? 3 : 1)}%`

/**
 * "Value *8,346* · fail above 100 · warn above 0", or the ratio when the metric
 * is ratio; then the range an anomaly test expected ("expected 162.1–197.9").
 * No threshold (volume, or `anomaly` alone): the range is what it is held to.
 */
function figureLine(result: CheckResult): string {
  const { value, details, threshold: t } = result
  const range = expectedRange(result)
  const expected = range ? [`expected ${range}`] : []
  const bounds = (format: (n: number) => string) =>
    t
      ? [
          t.fail === undefined ? '' : `fail above ${format(t.fail)}`,
          t.warn === undefined ? '' : `warn above ${format(t.warn)}`,
        ].filter(Boolean)
      : []
  if (t?.metric === 'ratio') {
    const ratio = typeof details.ratio === 'number' ? percent(details.ratio) : '?'
    return [
      `Ratio *${ratio}* (value ${value === null ? '-' : number(value)})`,
      ...bounds(percent),
      ...expected,
    ].join(' · ')
  }
  return [`Value *${value === null ? '-' : number(value)}*`, ...bounds(number), ...expected].join(
    ' · ',
  )
}

function ownerText(owner: string | undefined): string {
  if (!owner) return ''
  // A user or user-group mention written in the catalog (trusted config) stays one:
  // <@U123>, <!subteam^S1|@team>. Never <!channel> or <!here>: escaped like any text.
  if (/^<(@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+(\|[^<>|]*)?)>$/.test(owner)) return owner
  return escapeText(truncate(owner, 100))
}

function alertText(a: Alert, description: string | undefined, at: string): string {
  if (a.alert_kind === 'stale' && a.down) {
    const { since, until, interval_seconds } = a.down
    return [
      `:zzz: *dq-monitor was down*: no scheduled run completed from ${when(since)} to ${when(until)} (${formatDuration(Date.parse(until) - Date.parse(since))}; expected every ${formatDuration(interval_seconds * 1000)}).`,
      'Checks due in that gap did not run, and nothing was alerted. This run is the first since: its results are below or were unchanged.',
    ].join('\n')
  }
  const r = a.result
  // A removed check cannot be reproduced: its title says all there is.
  if (a.removed) return title(a, at)
  const lines = [title(a, at)]
  // Plain, not italic: descriptions name columns like experience_key, and "_" would end the italics.
  if (description) lines.push(escapeText(truncate(description, 300)))
  if (r && r.status === 'error') {
    lines.push(`Error: ${escapeText(errorText(r.error ?? 'could not run'))}`)
  } else if (r) {
    lines.push(figureLine(r))
    if (r.status !== 'pass') lines.push(escapeText(truncate(keyFigure(r), 500)))
    const sample = r.status === 'pass' ? [] : r.sample.slice(0, SAMPLE_ROWS)
    if (sample.length > 0) {
      const more = r.sample.length > SAMPLE_ROWS ? ` (+${r.sample.length - SAMPLE_ROWS})` : ''
      lines.push(`Sample: ${sample.map((row) => codeSpan(row, SAMPLE_CHARS)).join(' ')}${more}`)
    }
  }
  const owner = ownerText(r?.owner ?? undefined)
  const checkName = a.check ?? ''
  lines.push(
    [owner ? `Owner: ${owner}` : '', `Reproduce: \`dq run --check ${escapeText(checkName)}\``]
      .filter(Boolean)
      .join(' · '),
  )
  return lines.join('\n')
}

function contextLine(c: MessageContext): string {
  return [
    `Run \`${escapeText(c.run_id)}\``,
    `trigger ${escapeText(c.trigger)}`,
    `database ${escapeText(truncate(c.database, 200))}`,
    when(c.started_at),
  ].join(' · ')
}
