/**
 * What the CLI prints: result tables, progress lines and the run summary.
 * Plain text; colour only on a TTY without NO_COLOR.
 *
 * @example
 * ```ts
 * out.write(resultsTable(run.results, { color: false }))
 * ```
 */
import { styleText } from 'node:util'
import type { NotifyOutcome } from '../../alerts/notify/index.ts'
import { unescapeText } from '../../alerts/slack/text/index.ts'
import type { SlackPayload } from '../../alerts/store/index.ts'
import {
  type CheckResult,
  type HistoryEntry,
  keyFigure,
  type Status,
  statusRank,
} from '../../checks/result.ts'

export type Style = { color: boolean }

const STATUS_COLOR: Record<Status, Parameters<typeof styleText>[0]> = {
  pass: 'green',
  warn: 'yellow',
  fail: 'red',
  error: ['magenta', 'bold'],
}

function status(value: Status, style: Style, width = 5): string {
  const text = value.toUpperCase().padEnd(width)
  return style.color ? styleText(STATUS_COLOR[value], text) : text
}

function formatValue(value: number | null): string {
  return value === null ? '-' : value.toLocaleString('en-US')
}

function table(headers: string[], rows: string[][], raw: string[][]): string {
  // widths from the uncoloured text so ANSI codes do not skew columns
  const widths = headers.map((h, i) => Math.max(h.length, ...raw.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[], rawCells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1
          ? cell
          : cell + ' '.repeat((widths[i] ?? 0) - (rawCells[i] ?? '').length),
      )
      .join('  ')
      .trimEnd()
  return [line(headers, headers), ...rows.map((r, i) => line(r, raw[i] ?? r))].join('\n')
}

/** Failing checks first, then warnings, then passes; by name within a status. */
function sortResults<T extends Pick<CheckResult, 'status' | 'check'>>(results: T[]): T[] {
  return [...results].sort(
    (a, b) => statusRank(b.status) - statusRank(a.status) || a.check.localeCompare(b.check),
  )
}

export function resultsTable(results: CheckResult[], style: Style): string {
  const sorted = sortResults(results)
  const cells = (r: CheckResult, s: Style) => [
    status(r.status, s),
    r.check,
    formatValue(r.value),
    keyFigure(r),
    r.owner ?? '',
  ]
  return `${table(
    ['STATUS', 'CHECK', 'VALUE', 'WHAT', 'OWNER'],
    sorted.map((r) => cells(r, style)),
    sorted.map((r) => cells(r, { color: false })),
  )}\n`
}

export function summaryLine(
  results: readonly CheckResult[],
  durationMs: number,
  note: string,
): string {
  const count = (s: Status) => results.filter((r) => r.status === s).length
  const parts = (['fail', 'error', 'warn', 'pass'] as const)
    .map((s) => [s, count(s)] as const)
    .filter(([, c]) => c > 0)
    .map(([s, c]) => `${c} ${s}`)
  const checks = `${results.length} check${results.length === 1 ? '' : 's'}`
  return `${checks}: ${parts.join(', ') || 'none run'} in ${(durationMs / 1000).toFixed(1)} s${note ? `; ${note}` : ''}\n`
}

export function progressLine(result: CheckResult, index: number, total: number): string {
  const value = result.status === 'error' ? (result.error ?? '') : formatValue(result.value)
  return `[${index + 1}/${total}] ${result.status.padEnd(5)} ${result.check} ${value} (${result.duration_ms} ms)`
}

export function historyTable(entries: HistoryEntry[], style: Style): string {
  const cells = (e: HistoryEntry, s: Style) => [
    e.started_at,
    e.trigger,
    status(e.status, s),
    formatValue(e.value),
    keyFigure(e),
  ]
  return `${table(
    ['STARTED', 'TRIGGER', 'STATUS', 'VALUE', 'WHAT'],
    entries.map((e) => cells(e, style)),
    entries.map((e) => cells(e, { color: false })),
  )}\n`
}

/** stderr lines for the notify step: what was decided, what was sent, what went wrong. */
export function notifyLines(outcome: NotifyOutcome, command: string): string {
  const count = (t: string) => outcome.alerts.filter((a) => a.transition === t).length
  const decided = (['firing', 'reminder', 'resolved'] as const)
    .map((t) => [t, count(t)] as const)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${n} ${t}`)
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  const lines = [
    outcome.skipped
      ? `${command}: alerts: none: ${outcome.skipped}`
      : decided.length === 0
        ? `${command}: alerts: nothing new to tell on-call`
        : `${command}: alerts: ${decided.join(', ')}; ${plural(outcome.messages.length, 'Slack message')} queued`,
    ...outcome.delivered
      .filter((d) => d.status === 'sent')
      .map((d) => `${command}: Slack message ${d.id} sent (${plural(d.attempts, 'attempt')})`),
    ...outcome.problems.map((p) => `${command}: ${p}`),
  ]
  return `${lines.join('\n')}\n`
}

/** A Block Kit message as a terminal shows it: header, sections, context; entities undone. */
export function slackMessageText(payload: SlackPayload): string {
  const texts = payload.blocks.map((block) => {
    const b = block as { text?: { text?: string }; elements?: { text?: string }[] }
    return b.text?.text ?? (b.elements ?? []).map((e) => e.text ?? '').join(' ')
  })
  return `${texts.map(unescapeText).join('\n\n')}\n`
}
