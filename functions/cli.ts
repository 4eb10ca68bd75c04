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
import type { Catalog, ResolvedCheck } from '../checks/catalog.ts'
import { DqError, messageOf } from '../checks/errors.ts'
import { loadCatalog, selectChecks } from '../checks/load-catalog.ts'
import { exitCodeFor } from '../checks/result.ts'
import { runChecks, runResultOf } from '../checks/run-checks.ts'
import type { Database } from '../db/database.ts'
import { SEED_FILE } from '../db/migrations.ts'
import { openDatabase } from '../db/open-database.ts'
import { PGliteDatabase } from '../db/pglite.ts'
import { historyTable, progressLine, resultsTable, type Style, summaryLine } from './cli-output.ts'

export type Io = {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

const SERVE_HELP = `Usage: dq serve [--port N] [--catalog FILE] [--db URL]

Serves the HTTP API (the same Hono app as the Worker) on Node, on 127.0.0.1.
Every route but GET /health needs "Authorization: Bearer $DQ_API_TOKEN"
(DQ_API_TOKEN must be set, at least 16 characters). Default port 8787.
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

Run "dq <command> --help" for a command's options.

Database (migrate, run, history, validate): --db URL, else DQ_DATABASE_URL.
  postgres://user@host:5432/db   a PostgreSQL server (postgres.js)
  pglite:memory | pglite:DIR     embedded PostgreSQL (PGlite)

Exit codes: 0 all checks pass or warn, 1 a check fails, 2 a check errors or the input is invalid.
`,
  demo: `Usage: dq demo

Starts embedded PostgreSQL in memory, applies supabase/migrations, loads
supabase/seed.sql (five real incidents, scaled down), runs the demo catalog
checks/catalog.json and prints the results.
`,
  migrate: `Usage: dq migrate [--db URL]

Applies supabase/migrations to the database: schema dq, its history tables,
the check functions and grants. Safe to run again.
`,
  run: `Usage: dq run [--catalog FILE] [--check NAME]... [--tag TAG]... [--db URL] [--json]

Runs checks inside the database, records the run in history and prints a table
of results (failing first). Progress goes to stderr.

Options:
  --catalog FILE   catalog (.json, or a .ts/.js module exporting it); default
                   DQ_CATALOG, then ./checks/catalog.json
  --check NAME     run this check (repeatable); runs it even when disabled
  --tag TAG        run the enabled checks with this tag (repeatable)
  --db URL         database; default DQ_DATABASE_URL
  --json           print the result JSON on stdout, nothing else
`,
  history: `Usage: dq history --check NAME [--limit N] [--db URL] [--json]

A check's past results, newest first (default 20, at most 1000).
`,
  serve: SERVE_HELP,
  validate: `Usage: dq validate [--catalog FILE] [--db URL]

Checks a catalog against the schema: every error names its field, e.g.
checks[1].columns. With --db, also plans every check in that database (tables,
columns and expressions must resolve) without reading any rows.
`,
}

const OPTIONS = {
  catalog: { type: 'string' },
  check: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  db: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const ALLOWED: Record<string, (keyof typeof OPTIONS)[]> = {
  demo: [],
  migrate: ['db'],
  run: ['catalog', 'check', 'tag', 'db', 'json'],
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
  try {
    flags = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false })
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
  const db = await openDatabase(flags.db ?? io.env.DQ_DATABASE_URL)
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
  return withDatabase(flags, io, (db) => runAndReport(db, checks, flags.json ?? false, io))
}

async function runAndReport(
  db: Database,
  checks: ResolvedCheck[],
  json: boolean,
  io: Io,
): Promise<number> {
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
  if (json) {
    io.stdout.write(`${JSON.stringify(run, null, 2)}\n`)
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
  }
  if (recordError) {
    io.stderr.write(`dq run: the results above were NOT recorded in history: ${recordError}\n`)
    return 2
  }
  return exitCodeFor(run.results)
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
  if (!flags.db && !io.env.DQ_DATABASE_URL) return 0
  return withDatabase(flags, io, async (db) => {
    const failures = await validateInDatabase(db, catalog)
    for (const { check, error } of failures) io.stdout.write(`  ${check}: ${error}\n`)
    io.stdout.write(
      failures.length === 0
        ? `all ${catalog.checks.length} checks resolve in ${db.label}\n`
        : `${failures.length} of ${catalog.checks.length} checks do not resolve in ${db.label}\n`,
    )
    return failures.length === 0 ? 0 : 2
  })
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
    const code = await runAndReport(db, selectChecks(catalog), false, io)
    io.stdout.write(
      '\nEach failing row is a real incident (see README). Reproduce one: dq run --check NAME --db URL\n',
    )
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
  const catalog = await loadCatalog(flags.catalog)
  const db = await openDatabase(flags.db ?? io.env.DQ_DATABASE_URL)
  const { serve: listen } = await import('@hono/node-server')
  const { createApp } = await import('./app.ts')
  const app = createApp(() => ({ catalog, token, withDatabase: (use) => use(db) }))
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
