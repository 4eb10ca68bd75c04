/**
 * The `dq` command line: parse arguments, call checks/ and db/, print.
 * Exit codes: 0 every check passed or warned, 1 a check failed, 2 a check
 * errored or the input was invalid.
 *
 * @example
 * ```sh
 * dq run --catalog checks/catalog.json --db postgres://localhost/app --json
 * ```
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { databaseLabel, type Webhooks, webhooksFrom } from '../alerts/config/index.ts'
import {
  type NotifyOutcome,
  notifyRun,
  notifySummary,
  planRun,
  previewAlerts,
} from '../alerts/notify/index.ts'
import type { Catalog, ResolvedCheck } from '../checks/catalog.ts'
import { DqError, messageOf } from '../checks/errors.ts'
import { loadCatalog, selectChecks } from '../checks/load-catalog.ts'
import { exitCodeFor } from '../checks/result.ts'
import { type RunOutcome, runChecks, runResultOf } from '../checks/run-checks.ts'
import type { Database } from '../db/database.ts'
import { SEED_FILE } from '../db/migrations.ts'
import { openDatabase } from '../db/open-database.ts'
import { PGliteDatabase } from '../db/pglite.ts'
import {
  historyTable,
  notifyLines,
  progressLine,
  resultsTable,
  type Style,
  slackMessageText,
  summaryLine,
} from './cli-output.ts'

export type Io = {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

const SERVE_HELP = `Usage: dq serve [--port N] [--catalog FILE] [--db URL]

Serves the HTTP API (the same Hono app as the Worker) on Node, on 127.0.0.1.
Every route but GET /health needs "Authorization: Bearer $DQ_API_TOKEN"
(DQ_API_TOKEN must be set, at least 16 characters). Default port 8787.
Runs posted with "notify": true alert Slack (SLACK_WEBHOOK_URL, optional
SLACK_WEBHOOK_URL_CRITICAL); GET /health?deep=1 (with the token) reports
whether the scheduled monitor is stale.
`

const HELP: Record<string, string> = {
  main: `dq: data-quality checks for PostgreSQL / Supabase

Usage: dq <command> [options]

Commands:
  demo       run the demo incidents on embedded PostgreSQL (what "npm start" runs)
  migrate    install or update the dq schema in a database
  run        run checks, record them in history, print the results
  history    a check's past results
  validate   check a catalog file (and, with --db, that it resolves in the database)
  serve      serve the HTTP API (the Worker's app) on Node
  alerts     alerts preview: the Slack message the latest results would post

Run "dq <command> --help" for a command's options.

Slack (run --notify, demo): SLACK_WEBHOOK_URL, optional SLACK_WEBHOOK_URL_CRITICAL
(alerts of critical checks go there), optional DQ_DATABASE_LABEL (the name shown).

Database (migrate, run, history, validate, alerts, serve): --db URL, else DQ_DATABASE_URL,
else SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY (a Supabase project through its API).
  postgres://user@host:5432/db   a PostgreSQL server (postgres.js)
  pglite:memory | pglite:DIR     embedded PostgreSQL (PGlite)

Exit codes: 0 all checks pass or warn, 1 a check fails, 2 a check errors or the input is invalid.
`,
  demo: `Usage: dq demo

Starts embedded PostgreSQL in memory, applies supabase/migrations, loads
supabase/seed.sql (five real incidents, scaled down), runs the demo catalog
checks/catalog.json, prints the results and the Slack message a monitoring run
would post. With SLACK_WEBHOOK_URL set, it posts that message.
`,
  migrate: `Usage: dq migrate [--db URL]

Applies supabase/migrations to the database: schema dq, its history tables,
the check functions and grants. Safe to run again.
`,
  run: `Usage: dq run [--catalog FILE] [--check NAME]... [--tag TAG]... [--db URL] [--json] [--notify]

Runs checks inside the database, records the run in history and prints a table
of results (failing first). Progress goes to stderr.

Options:
  --catalog FILE   catalog (.json, or a .ts/.js module exporting it); default
                   DQ_CATALOG, then ./checks/catalog.json
  --check NAME     run this check (repeatable); runs it even when disabled
  --tag TAG        run the enabled checks with this tag (repeatable)
  --db URL         database; default DQ_DATABASE_URL, else SUPABASE_URL +
                   SUPABASE_SERVICE_ROLE_KEY (a Supabase project through its API)
  --json           print the result JSON on stdout, nothing else
  --notify         apply the alert policy and post to Slack (SLACK_WEBHOOK_URL,
                   optional SLACK_WEBHOOK_URL_CRITICAL): a message only when a
                   check starts failing, is still failing after its
                   repeatInterval (default 24 hours) or recovers. Slack problems
                   are reported on stderr (and under "notify" in --json) and never
                   change the exit code; unsent messages stay in the database's
                   outbox and the next --notify run sends them.
`,
  alerts: `Usage: dq alerts preview [--catalog FILE] [--db URL] [--all] [--json]

Renders the Slack message that the latest recorded results would post now,
without sending or recording anything: checks that started failing, are due a
reminder, or recovered since on-call was last told.

Options:
  --catalog FILE   catalog; default DQ_CATALOG, then ./checks/catalog.json
  --db URL         database; default DQ_DATABASE_URL, else SUPABASE_URL +
                   SUPABASE_SERVICE_ROLE_KEY (a Supabase project through its API)
  --all            show every failing check as if it were new (to see the format)
  --json           print the Slack payloads ({ route, payload }) as JSON
`,
  history: `Usage: dq history --check NAME [--limit N] [--db URL] [--json]

A check's past results, newest first (default 20, at most 1000).
`,
  serve: SERVE_HELP,
  validate: `Usage: dq validate [--catalog FILE] [--db URL]

Checks a catalog against the schema: every error names its field, e.g.
checks[1].columns. With --db, also plans every check in that database (tables,
columns and expressions must resolve) without reading any rows, and warns when
an incremental check lacks an index it needs (with the CREATE INDEX to add).
`,
}

const OPTIONS = {
  catalog: { type: 'string' },
  check: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  db: { type: 'string' },
  json: { type: 'boolean' },
  notify: { type: 'boolean' },
  all: { type: 'boolean' },
  limit: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const ALLOWED: Record<string, (keyof typeof OPTIONS)[]> = {
  demo: [],
  migrate: ['db'],
  run: ['catalog', 'check', 'tag', 'db', 'json', 'notify'],
  alerts: ['catalog', 'db', 'json', 'all'],
  history: ['check', 'limit', 'db', 'json'],
  validate: ['catalog', 'db'],
  serve: ['port', 'catalog', 'db'],
}

type Flags = {
  catalog?: string
  check?: string[]
  tag?: string[]
  db?: string
  json?: boolean
  notify?: boolean
  all?: boolean
  limit?: string
  port?: string
  help?: boolean
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(HELP[rest[0] ?? 'main'] ?? HELP.main ?? '')
    return 0
  }
  if (!(command in ALLOWED)) {
    io.stderr.write(`dq: unknown command "${command}"\n\n${HELP.main}`)
    return 2
  }
  let flags: Flags
  let args = rest
  if (command === 'alerts') {
    // One subcommand for now: `dq alerts preview`.
    const [sub, ...after] = rest
    if (sub === 'preview') args = after
    else if (sub !== undefined && !sub.startsWith('-')) {
      io.stderr.write(`dq alerts: unknown subcommand "${sub}"\n\n${HELP.alerts}`)
      return 2
    } else if (!rest.includes('--help') && !rest.includes('-h')) {
      io.stderr.write(`dq alerts: say what to do: dq alerts preview\n\n${HELP.alerts}`)
      return 2
    }
  }
  try {
    flags = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false })
      .values as Flags
    const allowed = ALLOWED[command] ?? []
    for (const key of Object.keys(flags) as (keyof typeof OPTIONS)[]) {
      if (key !== 'help' && !allowed.includes(key)) {
        throw new DqError('invalid_input', `option --${key} does not apply to "dq ${command}"`)
      }
    }
  } catch (error) {
    io.stderr.write(`dq ${command}: ${messageOf(error)}\n\n${HELP[command]}`)
    return 2
  }
  if (flags.help) {
    io.stdout.write(HELP[command] ?? '')
    return 0
  }
  try {
    switch (command) {
      case 'demo':
        return await demo(io)
      case 'migrate':
        return await migrate(flags, io)
      case 'run':
        return await run(flags, io)
      case 'history':
        return await history(flags, io)
      case 'validate':
        return await validate(flags, io)
      case 'serve':
        return await serve(flags, io)
      case 'alerts':
        return await alertsPreview(flags, io)
    }
    return 2
  } catch (error) {
    io.stderr.write(`dq ${command}: ${messageOf(error)}\n`)
    return 2
  }
}

function styleFor(stream: { isTTY?: boolean }, io: Io): Style {
  return { color: Boolean(stream.isTTY) && !io.env.NO_COLOR }
}

async function withDatabase<T>(flags: Flags, io: Io, use: (db: Database) => Promise<T>) {
  const db = await openDatabase(flags.db ?? io.env.DQ_DATABASE_URL, io.env)
  try {
    return await use(db)
  } finally {
    await db.close()
  }
}

async function migrate(flags: Flags, io: Io): Promise<number> {
  return withDatabase(flags, io, async (db) => {
    await db.migrate()
    io.stderr.write(`dq migrate: schema dq is up to date in ${db.label}\n`)
    return 0
  })
}

async function run(flags: Flags, io: Io): Promise<number> {
  const catalog = await loadCatalog(flags.catalog)
  io.stderr.write(`dq run: catalog ${catalog.path}\n`)
  const checks = selectChecks(catalog, { names: flags.check, tags: flags.tag })
  // A --notify with nowhere to post is invalid input: said before anything runs.
  const webhooks = flags.notify ? webhooksFrom(io.env) : undefined
  if (flags.notify && !webhooks) {
    throw new DqError(
      'config',
      '--notify needs SLACK_WEBHOOK_URL (a Slack incoming webhook URL); SLACK_WEBHOOK_URL_CRITICAL is optional',
    )
  }
  return withDatabase(flags, io, async (db) => {
    const report = await runAndReport(
      db,
      checks,
      flags.json ?? false,
      io,
      webhooks ? { webhooks } : {},
    )
    return report.code
  })
}

type Report = { code: number; outcome: RunOutcome; notified?: NotifyOutcome }

async function runAndReport(
  db: Database,
  checks: ResolvedCheck[],
  json: boolean,
  io: Io,
  options: { webhooks?: Webhooks; command?: string } = {},
): Promise<Report> {
  const command = options.command ?? 'dq run'
  if (checks.length === 0) {
    io.stderr.write('dq run: no checks selected (all disabled, or no check has that tag)\n')
  }
  const live = Boolean(io.stderr.isTTY)
  const outcome = await runChecks(db, checks, {
    trigger: 'cli',
    onResult: (result, index, total) => {
      const line = progressLine(result, index, total)
      io.stderr.write(live ? `\r\x1b[2K${line}${index + 1 === total ? '\n' : ''}` : `${line}\n`)
    },
  })
  const { recorded, recordError } = outcome
  const run = runResultOf(outcome)
  // After the run is recorded; whatever happens here, the exit code stays the checks'.
  const notify = async () => {
    if (!options.webhooks) return undefined
    const notified = await notifyRun(db, outcome, checks, {
      webhooks: options.webhooks,
      databaseLabel: databaseLabel(db.label, io.env.DQ_DATABASE_LABEL),
    })
    io.stderr.write(notifyLines(notified, command))
    return notified
  }
  let notified: NotifyOutcome | undefined
  if (json) {
    notified = await notify()
    const body = notified ? { ...run, notify: notifySummary(notified) } : run
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
  } else {
    const owners = new Map(checks.map((c) => [c.name, c.owner]))
    io.stdout.write(
      resultsTable(
        run.results.map((r) => ({
          ...r,
          ...(owners.get(r.check) ? { owner: owners.get(r.check) } : {}),
        })),
        styleFor(io.stdout, io),
      ),
    )
    io.stdout.write(
      summaryLine(run.results, run.duration_ms, recorded ? `run ${run.run_id} recorded` : ''),
    )
    notified = await notify()
  }
  const report = (code: number): Report => ({ code, outcome, ...(notified ? { notified } : {}) })
  if (recordError) {
    io.stderr.write(`dq run: the results above were NOT recorded in history: ${recordError}\n`)
    return report(2)
  }
  return report(exitCodeFor(run.results))
}

async function history(flags: Flags, io: Io): Promise<number> {
  const check = flags.check?.[0]
  if (!check || (flags.check?.length ?? 0) > 1) {
    throw new DqError('invalid_input', '--check NAME is required, once')
  }
  const limit = flags.limit === undefined ? 20 : Number(flags.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new DqError(
      'invalid_input',
      `--limit must be a whole number from 1 to 1000, got "${flags.limit}"`,
    )
  }
  return withDatabase(flags, io, async (db) => {
    const entries = await db.history(check, limit)
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ check, results: entries }, null, 2)}\n`)
    } else if (entries.length === 0) {
      io.stdout.write(`no results recorded for "${check}" in ${db.label}\n`)
    } else {
      io.stdout.write(historyTable(entries, styleFor(io.stdout, io)))
    }
    return 0
  })
}

async function validate(flags: Flags, io: Io): Promise<number> {
  const catalog = await loadCatalog(flags.catalog)
  io.stdout.write(`${catalog.path}: ${catalog.checks.length} checks, schema OK\n`)
  const configured = flags.db || io.env.DQ_DATABASE_URL || io.env.SUPABASE_URL
  if (!configured) return 0 // schema only: no database given
  return withDatabase(flags, io, async (db) => {
    const failures = await validateInDatabase(db, catalog)
    for (const { check, error } of failures) io.stdout.write(`  ${check}: ${error}\n`)
    const unresolved = new Set(failures.map((failure) => failure.check))
    for (const warning of await indexWarnings(db, catalog, unresolved)) {
      io.stdout.write(`  warning: ${warning}\n`)
    }
    io.stdout.write(
      failures.length === 0
        ? `all ${catalog.checks.length} checks resolve in ${db.label}\n`
        : `${failures.length} of ${catalog.checks.length} checks do not resolve in ${db.label}\n`,
    )
    return failures.length === 0 ? 0 : 2
  })
}

const IndexAdviceSchema = z.object({
  indexes: z.array(
    z.object({
      table: z.string(),
      columns: z.array(z.string()),
      purpose: z.string(),
      present: z.boolean().nullable(),
      create: z.string().nullable(),
    }),
  ),
})

/** Incremental checks missing the indexes that make them cheap, each with the CREATE INDEX to add. */
async function indexWarnings(db: Database, catalog: Catalog, skip: ReadonlySet<string>) {
  const warnings: string[] = []
  for (const check of catalog.checks) {
    if (!('incremental' in check) || !check.incremental || skip.has(check.name)) continue
    try {
      const advice = await db.indexAdvice(check, { timeoutSeconds: check.timeoutSeconds })
      for (const index of IndexAdviceSchema.parse(advice.details).indexes) {
        const on = `${index.table} (${index.columns.join(', ')})`
        if (index.present === false) {
          warnings.push(
            `${check.name}: incremental runs need an index on ${on} to ${index.purpose}; add it: ${index.create}`,
          )
        } else if (index.present === null) {
          warnings.push(
            `${check.name}: ${index.table} is a view: incremental runs need an index on ${index.columns.join(', ')} in the table under it`,
          )
        }
      }
    } catch (error) {
      warnings.push(`${check.name}: could not check its indexes: ${messageOf(error)}`)
    }
  }
  return warnings
}

async function validateInDatabase(db: Database, catalog: Catalog) {
  const failures: { check: string; error: string }[] = []
  for (const check of catalog.checks) {
    try {
      await db.validateCheck(check, { timeoutSeconds: check.timeoutSeconds })
    } catch (error) {
      failures.push({ check: check.name, error: messageOf(error) })
    }
  }
  return failures
}

async function demo(io: Io): Promise<number> {
  const started = performance.now()
  io.stderr.write('dq demo: starting embedded PostgreSQL (PGlite) in memory...\n')
  const db = await PGliteDatabase.open('memory')
  try {
    await db.migrate()
    await db.exec(await readFile(SEED_FILE, 'utf8'))
    const catalog = await loadCatalog(new URL('../checks/catalog.json', import.meta.url).pathname)
    io.stderr.write(
      `dq demo: database seeded with the five incidents in ${((performance.now() - started) / 1000).toFixed(1)} s; running ${catalog.checks.length} checks\n`,
    )
    const checks = selectChecks(catalog)
    const webhooks = webhooksFrom(io.env)
    const report = await runAndReport(db, checks, false, io, {
      command: 'dq demo',
      ...(webhooks ? { webhooks } : {}),
    })
    await demoMessage(db, checks, report, io)
    io.stdout.write(
      '\nEach failing row is a real incident (see README). Reproduce one: dq run --check NAME --db URL\n',
    )
    const { code } = report
    // Failing checks are the point of the demo; only a check that errors is a problem.
    return code === 1 ? 0 : code
  } finally {
    await db.close()
  }
}

async function serve(flags: Flags, io: Io): Promise<number> {
  const token = io.env.DQ_API_TOKEN ?? ''
  if (token.length < 16) {
    throw new DqError(
      'config',
      'set DQ_API_TOKEN (at least 16 characters) before "dq serve": every route but /health requires it',
    )
  }
  const port = flags.port === undefined ? 8787 : Number(flags.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DqError('invalid_input', `--port must be a port number, got "${flags.port}"`)
  }
  const webhooks = webhooksFrom(io.env) // a bad SLACK_* value is said before anything opens
  const catalog = await loadCatalog(flags.catalog)
  const db = await openDatabase(flags.db ?? io.env.DQ_DATABASE_URL, io.env)
  const { serve: listen } = await import('@hono/node-server')
  const { createApp } = await import('./app.ts')
  const app = createApp(() => ({
    catalog,
    token,
    withDatabase: (use) => use(db),
    alerts: { webhooks, databaseLabel: io.env.DQ_DATABASE_LABEL },
  }))
  const server = listen({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
    io.stderr.write(
      `dq serve: ${catalog.checks.length} checks from ${catalog.path}, database ${db.label}\n`,
    )
    io.stderr.write(`dq serve: listening on http://127.0.0.1:${info.port}\n`)
  })
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve())
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await db.close()
  return 0
}

/**
 * The demo's Slack message: the one posted when SLACK_WEBHOOK_URL is set,
 * otherwise the one a monitoring run would post (decided, not recorded).
 */
async function demoMessage(
  db: Database,
  checks: ResolvedCheck[],
  report: Report,
  io: Io,
): Promise<void> {
  const messages = report.notified
    ? report.notified.messages
    : (
        await planRun(db, report.outcome, checks, {
          databaseLabel: databaseLabel(db.label, io.env.DQ_DATABASE_LABEL),
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

async function alertsPreview(flags: Flags, io: Io): Promise<number> {
  const catalog = await loadCatalog(flags.catalog)
  io.stderr.write(`dq alerts preview: catalog ${catalog.path}\n`)
  const webhooks = webhooksFrom(io.env)
  return withDatabase(flags, io, async (db) => {
    const plan = await previewAlerts(db, catalog.checks, {
      databaseLabel: databaseLabel(db.label, io.env.DQ_DATABASE_LABEL),
      criticalRoute: Boolean(webhooks?.critical),
      all: flags.all ?? false,
    })
    if (flags.json) {
      const messages = plan.messages.map(({ route, payload }) => ({ route, payload }))
      io.stdout.write(`${JSON.stringify({ messages }, null, 2)}\n`)
      return 0
    }
    if (plan.latest === 0) {
      io.stdout.write(`no results recorded yet in ${db.label}: run "dq run" first\n`)
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
}
