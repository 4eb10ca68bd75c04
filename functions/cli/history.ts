/**
 * `dq history`: a check's past results, newest first.
 *
 * @example
 * ```sh
 * dq history --check pwh_experience_key_stale --limit 5 --json
 * ```
 */
import { checkHistory } from '../../checks/store.ts'
import { DqError } from '../../kernel/errors.ts'
import { type Command, DATABASE_HELP, styleFor, wholeNumber, withDatabase } from './context.ts'
import { historyTable } from './output.ts'

export const history: Command = {
  name: 'history',
  summary: "a check's past results",
  help: `Usage: dq history --check NAME [--limit N] [--db URL] [--json]

A check's past results, newest first (default 20, at most 1000).

Options:
  --check NAME     the check (once)
  --limit N        how many results, 1 to 1000 (default 20)
  ${DATABASE_HELP}
  --json           print { check, results } as JSON
`,
  options: ['check', 'limit', 'db', 'json'],
  async run(flags, io) {
    const check = flags.check?.[0]
    if (!check || (flags.check?.length ?? 0) > 1) {
      throw new DqError('invalid_input', '--check NAME is required, once')
    }
    const limit = wholeNumber('--limit', flags.limit, { min: 1, max: 1000, default: 20 })
    return withDatabase(flags, io, async (port) => {
      const entries = await checkHistory(port, check, limit)
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ check, results: entries }, null, 2)}\n`)
      } else if (entries.length === 0) {
        io.stdout.write(`no results recorded for "${check}" in ${port.label}\n`)
      } else {
        io.stdout.write(historyTable(entries, styleFor(io.stdout, io)))
      }
      return 0
    })
  },
}
