/**
 * `dq run`: runs checks inside the database, records the run in history and
 * prints a table of results (or the result JSON); `--notify` applies the
 * alert policy and posts to Slack.
 *
 * @example
 * ```sh
 * dq run --catalog checks/catalog.json --tag breezeway --db postgres://localhost/app --json
 * ```
 */
import {
  alertConfig,
  configuredLabel,
  databaseLabel,
  type Webhooks,
} from '../../alerts/config/index.ts'
import { type NotifyOutcome, notifyRun, notifySummary } from '../../alerts/notify/index.ts'
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { expandCatalog } from '../../checks/generate.ts'
import { describeCatalog, loadCatalog } from '../../checks/load-catalog.ts'
import { exitCodeFor } from '../../checks/result.ts'
import { type RunOutcome, runChecks, runResultOf } from '../../checks/run-checks.ts'
import { selectChecks } from '../../checks/select-checks.ts'
import { DqError } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import {
  CATALOG_HELP,
  type Command,
  DATABASE_HELP,
  type Io,
  styleFor,
  withDatabase,
} from './context.ts'
import { notifyLines, progressLine, resultsTable, summaryLine } from './output.ts'

export const run: Command = {
  name: 'run',
  summary: 'run checks, record them in history, print the results',
  help: `Usage: dq run [--catalog FILE] [--check NAME]... [--tag TAG]... [--db URL] [--json] [--notify]

Runs checks inside the database, records the run in history and prints a table
of results (failing first). Progress goes to stderr.

Options:
  ${CATALOG_HELP}
  --check NAME     run this check (repeatable); runs it even when disabled
  --tag TAG        run the enabled checks with this tag (repeatable)
  ${DATABASE_HELP}
  --json           print the result JSON on stdout, nothing else
  --notify         apply the alert policy and post to Slack (SLACK_WEBHOOK_URL,
                   optional SLACK_WEBHOOK_URL_CRITICAL): a message only when a
                   check starts failing, is still failing after its
                   repeatInterval (default 24 hours) or recovers. Slack problems
                   are reported on stderr (and under "notify" in --json) and never
                   change the exit code; unsent messages stay in the database's
                   outbox and the next --notify run sends them.

Exit codes: 0 every check passed or warned, 1 a check failed, 2 a check could
not run, the run was not recorded, or the input is invalid.
`,
  options: ['catalog', 'check', 'tag', 'db', 'json', 'notify'],
  async run(flags, io) {
    const catalog = await loadCatalog({ path: flags.catalog, env: io.env })
    io.stderr.write(`dq run: catalog ${describeCatalog(catalog)}\n`)
    // Names are checked before any database is opened, unless a generator may make them.
    if (catalog.generators.length === 0)
      selectChecks(catalog, { names: flags.check, tags: flags.tag })
    // A --notify with nowhere to post is invalid input: said before anything runs.
    const alerts = flags.notify ? alertConfig(io.env) : { label: configuredLabel(io.env) }
    if (flags.notify && !alerts.webhooks) {
      throw new DqError(
        'config',
        '--notify needs SLACK_WEBHOOK_URL (a Slack incoming webhook URL); SLACK_WEBHOOK_URL_CRITICAL is optional',
      )
    }
    return withDatabase(flags, io, async (port) => {
      const expanded = await expandCatalog(port, catalog)
      const checks = selectChecks(expanded, { names: flags.check, tags: flags.tag })
      const whole = !flags.check?.length && !flags.tag?.length
      const report = await runAndReport(port, checks, io, {
        ...(whole ? { catalogChecks: expanded.checks } : {}),
        json: flags.json ?? false,
        ...('webhooks' in alerts && alerts.webhooks ? { webhooks: alerts.webhooks } : {}),
        ...(alerts.label ? { label: alerts.label } : {}),
      })
      return report.code
    })
  },
}

export type Report = { code: number; outcome: RunOutcome; notified?: NotifyOutcome }

export type ReportOptions = {
  /** Print the result JSON on stdout instead of the table. */
  json: boolean
  /** Notify Slack after recording (run --notify, demo with SLACK_WEBHOOK_URL). */
  webhooks?: Webhooks
  /** DQ_DATABASE_LABEL */
  label?: string
  /** The name in messages: "dq run" or "dq demo". */
  command?: string
  /** The whole (expanded) catalog, when the run covers it: alerts of checks no longer in it resolve as removed. */
  catalogChecks?: readonly ResolvedCheck[]
}

/** Runs, records, notifies when asked, prints; the exit code follows the checks. */
export async function runAndReport(
  port: DatabasePort,
  checks: ResolvedCheck[],
  io: Io,
  options: ReportOptions,
): Promise<Report> {
  const command = options.command ?? 'dq run'
  if (checks.length === 0) {
    // Unknown names and tags were refused already: here every check is disabled.
    throw new DqError(
      'unknown_check',
      'no enabled check to run: every check in the catalog is disabled (name one with --check to run it anyway)',
    )
  }
  const live = Boolean(io.stderr.isTTY)
  const outcome = await runChecks(port, checks, {
    trigger: 'cli',
    onResult: (result, index, total) => {
      const line = progressLine(result, index, total)
      io.stderr.write(live ? `\r\x1b[2K${line}${index + 1 === total ? '\n' : ''}` : `${line}\n`)
    },
  })
  const { recorded, recordError } = outcome
  const result = runResultOf(outcome)
  // After the run is recorded; whatever happens here, the exit code stays the checks'.
  const notify = async () => {
    if (!options.webhooks) return undefined
    const notified = await notifyRun(port, outcome, checks, {
      webhooks: options.webhooks,
      databaseLabel: databaseLabel(port.label, options.label),
      ...(options.catalogChecks ? { catalogChecks: options.catalogChecks } : {}),
    })
    io.stderr.write(notifyLines(notified, command))
    return notified
  }
  let notified: NotifyOutcome | undefined
  if (options.json) {
    notified = await notify()
    const body = notified ? { ...result, notify: notifySummary(notified) } : result
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
  } else {
    io.stdout.write(resultsTable(result.results, styleFor(io.stdout, io)))
    io.stdout.write(
      summaryLine(
        result.results,
        result.duration_ms,
        recorded ? `run ${result.run_id} recorded` : '',
      ),
    )
    notified = await notify()
  }
  const report = (code: number): Report => ({ code, outcome, ...(notified ? { notified } : {}) })
  if (recordError) {
    io.stderr.write(`${command}: the results above were NOT recorded in history: ${recordError}\n`)
    return report(2)
  }
  return report(exitCodeFor(result.results))
}
