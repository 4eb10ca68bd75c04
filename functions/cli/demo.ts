/**
 * `dq demo` (what `npm start` runs): embedded PostgreSQL in memory, seeded
 * with the incidents of SCENARIOS.md, the demo catalog run against it, and
 * the Slack message a monitoring run would post.
 *
 * @example
 * ```sh
 * npm start
 * ```
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { alertConfig, databaseLabel } from '../../alerts/config/index.ts'
import { planRun } from '../../alerts/plan/index.ts'
import type { ResolvedCheck } from '../../checks/catalog.ts'
import { expandCatalog } from '../../checks/generate.ts'
import { BUNDLED_CATALOG, loadCatalog } from '../../checks/load-catalog.ts'
import { selectChecks } from '../../checks/select-checks.ts'
import { SEED_FILE } from '../../db/migrations.ts'
import { PGliteDatabase } from '../../db/pglite.ts'
import { DqError } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { apiToken } from '../token.ts'
import type { Command, Flags, Io } from './context.ts'
import { slackMessageText } from './output.ts'
import { type Report, runAndReport } from './run.ts'
import { portOf, serveApp } from './serve.ts'

export const demo: Command = {
  name: 'demo',
  summary: 'run the demo incidents on embedded PostgreSQL (what "npm start" runs)',
  help: `Usage: dq demo [--serve [--port N]]

Starts embedded PostgreSQL in memory, applies supabase/migrations, loads
supabase/seed.sql (real incidents, scaled down), runs the demo catalog
checks/catalog.json, prints the results and the Slack message a monitoring run
would post. With SLACK_WEBHOOK_URL set, it posts that message.

With --serve, it then serves the status page (and the HTTP API) on the demo
database at http://127.0.0.1:PORT/ until Ctrl-C, and prints the token to sign
in with: DQ_API_TOKEN when set, else one made for this run.

Options:
  --serve          serve the status page on the demo database afterwards
  --port N         its port (default 8787)

Exit codes: 0 when the demo ran (failing checks are its point, and one check
errors by design), 2 when it could not run or record its results.
`,
  options: ['serve', 'port'],
  async run(flags, io) {
    const started = performance.now()
    // Every setting is checked before the database starts: a typo fails in a moment.
    const alerts = alertConfig(io.env)
    const serve = flags.serve ? serveSettings(flags, io) : undefined
    if (!flags.serve && flags.port !== undefined) {
      throw new DqError('invalid_input', '--port applies only with --serve')
    }
    io.stderr.write('dq demo: starting embedded PostgreSQL (PGlite) in memory...\n')
    const port = await PGliteDatabase.open('memory')
    try {
      await port.migrate()
      await port.exec(await readFile(SEED_FILE, 'utf8'))
      const catalog = await loadCatalog({ path: BUNDLED_CATALOG })
      io.stderr.write(
        `dq demo: database seeded with the incidents in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      )
      const expanded = await expandCatalog(port, catalog)
      const checks = selectChecks(expanded)
      const report = await runAndReport(port, checks, io, {
        catalogChecks: expanded.checks,
        json: false,
        command: 'dq demo',
        ...(alerts.webhooks ? { webhooks: alerts.webhooks } : {}),
        ...(alerts.label ? { label: alerts.label } : {}),
      })
      await demoMessage(port, checks, report, io, alerts.label)
      io.stdout.write(
        '\nEach failing row is a real incident (see README). Reproduce one: dq run --check NAME --db URL\n',
      )
      if (serve) {
        await serveApp(
          {
            catalog,
            token: serve.token,
            withDatabase: (use) => use(port),
            alerts: { webhooks: alerts.webhooks, databaseLabel: alerts.label },
          },
          { port: serve.port, io },
          (url) =>
            io.stdout.write(
              `\nThe status page of the demo database: ${url}/\nSign in with this token${serve.generated ? ' (made for this run; set DQ_API_TOKEN to choose one)' : ' (DQ_API_TOKEN)'}: ${serve.token}\nCtrl-C stops it.\n`,
            ),
        )
      }
      // Failing checks are the point of the demo, and one errors by design (a registry row
      // names a table that does not exist): only a run that could not be recorded is a problem.
      return report.outcome.recorded ? 0 : 2
    } finally {
      await port.close()
    }
  },
}

/** The port and token of `dq demo --serve`: DQ_API_TOKEN when set, else a fresh random one. */
function serveSettings(flags: Flags, io: Io) {
  const port = portOf(flags)
  if (io.env.DQ_API_TOKEN !== undefined) {
    return { port, token: apiToken(io.env.DQ_API_TOKEN, 'DQ_API_TOKEN'), generated: false }
  }
  return { port, token: randomBytes(24).toString('base64url'), generated: true }
}

/**
 * The demo's Slack message: the one posted when SLACK_WEBHOOK_URL is set,
 * otherwise the one a monitoring run would post (decided, not recorded).
 */
async function demoMessage(
  port: DatabasePort,
  checks: ResolvedCheck[],
  report: Report,
  io: Io,
  label: string | undefined,
): Promise<void> {
  const messages = report.notified
    ? report.notified.messages
    : (
        await planRun(port, report.outcome, checks, {
          databaseLabel: databaseLabel(port.label, label),
          criticalRoute: false,
        })
      ).messages
  const sent = new Set(
    (report.notified?.delivered ?? []).filter((d) => d.status === 'sent').map((d) => d.id),
  )
  for (const message of messages) {
    const what = !report.notified
      ? 'The Slack message a monitoring run would post (set SLACK_WEBHOOK_URL to post it):'
      : sent.has((message as { id?: number }).id ?? -1)
        ? 'Posted to Slack:'
        : 'Not posted yet (see above; it stays in the outbox):'
    io.stdout.write(`\n${what}\n\n${slackMessageText(message.payload)}`)
  }
}
