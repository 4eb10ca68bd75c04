/**
 * `dq validate`: the catalog against its schema (every error names its
 * field), and with a database, every check planned there without reading a
 * row, plus the indexes incremental checks need.
 *
 * @example
 * ```sh
 * dq validate --catalog my-checks.json --db postgres://localhost/app
 * ```
 */
import type { Catalog } from '../../checks/catalog.ts'
import { expandCatalog } from '../../checks/generate.ts'
import { generatorId } from '../../checks/generator-entry.ts'
import { describeCatalog, loadCatalog } from '../../checks/load-catalog.ts'
import { indexAdvice, validateCheck } from '../../checks/store.ts'
import { databaseConfigured } from '../../db/open-database.ts'
import { messageOf } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { CATALOG_HELP, type Command, DATABASE_HELP, withDatabase } from './context.ts'

export const validate: Command = {
  name: 'validate',
  summary: 'check a catalog file (and, with --db, that it resolves in the database)',
  help: `Usage: dq validate [--catalog FILE] [--db URL]

Checks a catalog against the schema: every error names its field, e.g.
checks[1].columns. With a database, also lists the checks each generator
expands to (--db, DQ_DATABASE_URL or SUPABASE_*), also
plans every check there (tables, columns and expressions must resolve) without
reading any rows, and warns when an incremental check lacks an index it needs
(with the CREATE INDEX to add).

Options:
  ${CATALOG_HELP}
  ${DATABASE_HELP}

Exit codes: 0 valid, 2 invalid (the catalog, or a check that does not resolve).
`,
  options: ['catalog', 'db'],
  async run(flags, io) {
    const loaded = await loadCatalog({ path: flags.catalog, env: io.env })
    const generators = loaded.generators.length
    io.stdout.write(`${describeCatalog(loaded)}, schema OK\n`)
    if (!databaseConfigured({ reference: flags.db, env: io.env })) {
      if (generators)
        io.stdout.write('  (generators expand against a database: give --db to see their checks)\n')
      return 0 // schema only: no database given
    }
    return withDatabase(flags, io, async (port) => {
      const catalog = await expandCatalog(port, loaded)
      for (const line of expansionLines(catalog)) io.stdout.write(`${line}\n`)
      const failures = await unresolved(port, catalog)
      for (const { check, error } of failures) io.stdout.write(`  ${check}: ${error}\n`)
      const skip = new Set(failures.map((failure) => failure.check))
      for (const warning of await indexWarnings(port, catalog, skip)) {
        io.stdout.write(`  warning: ${warning}\n`)
      }
      io.stdout.write(
        failures.length === 0
          ? `all ${catalog.checks.length} checks resolve in ${port.label}\n`
          : `${failures.length} of ${catalog.checks.length} checks do not resolve in ${port.label}\n`,
      )
      return failures.length === 0 ? 0 : 2
    })
  },
}

/**
 * What each generator expanded to: one line per generated check, with the
 * fields of its row that the placeholders use (the rest of a wide registry
 * row would crowd out the tables the check reads).
 */
function expansionLines(catalog: Catalog): string[] {
  const lines: string[] = []
  for (const entry of catalog.generators) {
    const by = generatorId(entry)
    const used = placeholderColumns(entry)
    const made = catalog.checks.filter((check) => check.generated?.by === by)
    lines.push(
      `${by} (from ${entry.generate.from}): ${made.length} check${made.length === 1 ? '' : 's'}`,
    )
    for (const check of made) {
      const row = check.generated?.row ?? {}
      const shown = used.filter((column) => column in row)
      const text = JSON.stringify(
        shown.length > 0 ? Object.fromEntries(shown.map((column) => [column, row[column]])) : row,
      )
      lines.push(`  ${check.name}  ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`)
    }
  }
  return lines
}

/** The columns a generator's placeholders name, in order of first use (name template first). */
function placeholderColumns(entry: Catalog['generators'][number]): string[] {
  const text = `${entry.generate.name} ${JSON.stringify(entry.generate.check)}`
  return [...new Set([...text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? ''))]
}

async function unresolved(port: DatabasePort, catalog: Catalog) {
  const failures: { check: string; error: string }[] = []
  for (const check of catalog.checks) {
    if (check.generated?.error) {
      failures.push({ check: check.name, error: check.generated.error })
      continue
    }
    try {
      await validateCheck(port, check, { timeoutSeconds: check.timeoutSeconds })
    } catch (error) {
      failures.push({ check: check.name, error: messageOf(error) })
    }
  }
  return failures
}

/** Incremental checks missing the indexes that make them cheap, each with the CREATE INDEX to add. */
async function indexWarnings(port: DatabasePort, catalog: Catalog, skip: ReadonlySet<string>) {
  const warnings: string[] = []
  for (const check of catalog.checks) {
    if (!('incremental' in check) || !check.incremental || skip.has(check.name)) continue
    try {
      const advice = await indexAdvice(port, check, { timeoutSeconds: check.timeoutSeconds })
      for (const index of advice.details.indexes) {
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
