/**
 * `dq serve`: the HTTP API (the same Hono app as the Worker) on Node.
 *
 * @example
 * ```sh
 * DQ_API_TOKEN=$(openssl rand -hex 32) dq serve --port 8787 --db postgres://localhost/app
 * ```
 */
import { alertConfig } from '../../alerts/config/index.ts'
import { describeCatalog, loadCatalog } from '../../checks/load-catalog.ts'
import { openDatabase } from '../../db/open-database.ts'
import { DqError } from '../../kernel/errors.ts'
import { accessSettings } from '../../status/session.ts'
import type { Services } from '../app.ts'
import { apiToken } from '../token.ts'
import {
  CATALOG_HELP,
  type Command,
  DATABASE_HELP,
  type Flags,
  type Io,
  wholeNumber,
} from './context.ts'

export const serve: Command = {
  name: 'serve',
  summary: "serve the HTTP API (the Worker's app) on Node",
  help: `Usage: dq serve [--port N] [--catalog FILE] [--db URL]

Serves the HTTP API (the same Hono app as the Worker) on Node, on 127.0.0.1.
Every JSON route but GET /health needs "Authorization: Bearer $DQ_API_TOKEN"
(DQ_API_TOKEN must be set: at least 16 characters, those a bearer token may
carry: letters, digits and - . _ ~ + /, then "=" at the end; e.g.
export DQ_API_TOKEN=$(openssl rand -hex 32)). Default port 8787.
The status page is at http://127.0.0.1:PORT/: sign in with the same token
(or through Cloudflare Access: CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD).
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
    const token = apiToken(
      io.env.DQ_API_TOKEN,
      'DQ_API_TOKEN (the token clients and the status page sign in with)',
    )
    const port = portOf(flags)
    const alerts = alertConfig(io.env) // a bad SLACK_* value is said before anything opens
    const access = accessSettings(io.env)
    const catalog = await loadCatalog({ path: flags.catalog, env: io.env })
    const database = await openDatabase({ reference: flags.db, env: io.env })
    try {
      await serveApp(
        {
          catalog,
          token,
          withDatabase: (use) => use(database),
          alerts: { webhooks: alerts.webhooks, databaseLabel: alerts.label },
          access,
        },
        { port, io },
        (url) => {
          io.stderr.write(
            `dq serve: catalog ${describeCatalog(catalog)}; database ${database.label}\n`,
          )
          io.stderr.write(`dq serve: listening on ${url} (the status page: ${url}/)\n`)
        },
      )
    } finally {
      await database.close()
    }
    return 0
  },
}

/** --port, default 8787. */
export function portOf(flags: Pick<Flags, 'port'>): number {
  return wholeNumber('--port', flags.port, { min: 0, max: 65535, default: 8787 })
}

/**
 * Serves the app (JSON API and status page) on 127.0.0.1 until SIGINT or
 * SIGTERM; `listening` gets its URL (port 0 picks a free one).
 */
export async function serveApp(
  services: Services,
  options: { port: number; io: Io },
  listening: (url: string) => void,
): Promise<void> {
  const { serve: listen } = await import('@hono/node-server')
  const { createApp } = await import('../app.ts')
  const app = createApp(() => services)
  const server = listen({ fetch: app.fetch, port: options.port, hostname: '127.0.0.1' }, (info) =>
    listening(`http://127.0.0.1:${info.port}`),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new DqError(
              'invalid_input',
              `port ${options.port} is in use: choose another with --port N`,
            )
          : error,
      ),
    )
    const stop = () => server.close(() => resolve())
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
