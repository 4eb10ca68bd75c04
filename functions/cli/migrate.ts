/**
 * `dq migrate`: applies supabase/migrations to a database (idempotent).
 *
 * @example
 * ```sh
 * dq migrate --db postgres://postgres@127.0.0.1:5432/app
 * ```
 */
import { type Command, DATABASE_HELP, withDatabase } from './context.ts'

export const migrate: Command = {
  name: 'migrate',
  summary: 'install or update the dq schema in a database',
  help: `Usage: dq migrate [--db URL]

Applies supabase/migrations to the database: schema dq, its history tables,
the check functions and grants. Safe to run again.

Options:
  ${DATABASE_HELP}
`,
  options: ['db'],
  run: (flags, io) =>
    withDatabase(flags, io, async (port) => {
      await port.migrate()
      io.stderr.write(`dq migrate: schema dq is up to date in ${port.label}\n`)
      return 0
    }),
}
