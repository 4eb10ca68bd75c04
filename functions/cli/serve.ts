/**
 * `dq serve`: the HTTP API (the same Hono app as the Worker) on Node.
 *
 * @example
 * ```sh
 * DQ_API_TOKEN=$(openssl rand -hex 32) dq serve --port 8787 --db postgres://localhost/app
 * ```
 */
import { alertConfig } from '../../alerts/config/index.ts'
import { loadCatalog } from '../../checks/load-catalog.ts'
import { openDatabase } from '../../db/open-database.ts'
import { DqError } from '../../kernel/errors.ts'
import { apiToken } from '../token.ts'
import { CATALOG_HELP, type Command, DATABASE_HELP } from './context.ts'

export const serve: Command = {
  name: 'serve',
  summary: "serve the HTTP API (the Worker's app) on Node",
  help: `Usage: dq serve [--port N] [--catalog FILE] [--db URL]

Serves the HTTP API (the same Hono app as the Worker) on Node, on 127.0.0.1.
Every route but GET /health needs "Authorization: Bearer $DQ_API_TOKEN"
(DQ_API_TOKEN must be set: at least 16 characters, those a bearer token may
carry: letters, digits and - . _ ~ + /). Default port 8787.
Runs posted with "notify": true alert Slack (SLACK_WEBHOOK_URL, optional
SLACK_WEBHOOK_URL_CRITICAL); GET /health?deep=1 (with the token) reports
whether the scheduled monitor is stale.

Options:
  --port N         port (default 8787)
  ${CATALOG_HELP}
  ${DATABASE_HELP}
`,
  options: ['port', 'catalog', 'db'],
  async run(flags, io) {
    const token = apiToken(io.env.DQ_API_TOKEN, 'DQ_API_TOKEN (export it before "dq serve")')
    const port = flags.port === undefined ? 8787 : Number(flags.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new DqError('invalid_input', `--port must be a port number, got "${flags.port}"`)
    }
    const alerts = alertConfig(io.env) // a bad SLACK_* value is said before anything opens
    const catalog = await loadCatalog({ path: flags.catalog, env: io.env })
    const database = await openDatabase({ reference: flags.db, env: io.env })
    const { serve: listen } = await import('@hono/node-server')
    const { createApp } = await import('../app.ts')
    const app = createApp(() => ({
      catalog,
      token,
      withDatabase: (use) => use(database),
      alerts: { webhooks: alerts.webhooks, databaseLabel: alerts.label },
    }))
    const server = listen({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
      io.stderr.write(
        `dq serve: ${catalog.checks.length} checks from ${catalog.path}, database ${database.label}\n`,
      )
      io.stderr.write(`dq serve: listening on http://127.0.0.1:${info.port}\n`)
    })
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve())
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await database.close()
    return 0
  },
}
