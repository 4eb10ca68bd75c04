/**
 * `dq alerts preview`: the Slack message the latest recorded results would
 * post now, without sending or recording anything.
 *
 * @example
 * ```sh
 * dq alerts preview --all --db postgres://localhost/app
 * ```
 */
import { alertConfig, databaseLabel } from '../../alerts/config/index.ts'
import { previewAlerts } from '../../alerts/plan/index.ts'
import { expandCatalog } from '../../checks/generate.ts'
import { describeCatalog, loadCatalog } from '../../checks/load-catalog.ts'
import { CATALOG_HELP, type Command, DATABASE_HELP, withDatabase } from './context.ts'
import { slackMessageText } from './output.ts'

export const alerts: Command = {
  name: 'alerts',
  summary: 'alerts preview: the Slack message the latest results would post',
  help: `Usage: dq alerts preview [--catalog FILE] [--db URL] [--all] [--json]

Renders the Slack message that the latest recorded results would post now,
without sending or recording anything: checks that started failing, are due a
reminder, or recovered since on-call was last told.

Options:
  ${CATALOG_HELP}
  ${DATABASE_HELP}
  --all            show every failing check as if it were new (to see the format)
  --json           print the Slack payloads ({ route, payload }) as JSON
`,
  options: ['catalog', 'db', 'json', 'all'],
  subcommands: ['preview'],
  async run(flags, io) {
    const catalog = await loadCatalog({ path: flags.catalog, env: io.env })
    io.stderr.write(`dq alerts preview: catalog ${describeCatalog(catalog)}\n`)
    const config = alertConfig(io.env)
    return withDatabase(flags, io, async (port) => {
      const { checks } = await expandCatalog(port, catalog)
      const plan = await previewAlerts(port, checks, {
        databaseLabel: databaseLabel(port.label, config.label),
        criticalRoute: Boolean(config.webhooks?.critical),
        all: flags.all ?? false,
      })
      if (flags.json) {
        const messages = plan.messages.map(({ route, payload }) => ({ route, payload }))
        io.stdout.write(`${JSON.stringify({ messages }, null, 2)}\n`)
        return 0
      }
      if (plan.latest === 0) {
        io.stdout.write(`no results recorded yet in ${port.label}: run "dq run" first\n`)
        return 0
      }
      if (plan.messages.length === 0) {
        io.stdout.write(
          `nothing to send: the latest results of ${plan.latest} checks change nothing on-call has not been told (--all shows every failing check)\n`,
        )
        return 0
      }
      for (const message of plan.messages) {
        const to = message.route === 'critical' ? 'SLACK_WEBHOOK_URL_CRITICAL' : 'SLACK_WEBHOOK_URL'
        io.stdout.write(`--- to ${to} ---\n${slackMessageText(message.payload)}\n`)
      }
      return 0
    })
  },
}
