/**
 * The `dq` command line: finds the command, parses its options (each command,
 * with its help, is one file beside this one), runs it. Exit codes: 0 every
 * check passed or warned, 1 a check failed, 2 a check errored or the input
 * was invalid.
 *
 * @example
 * ```sh
 * dq run --catalog checks/catalog.json --db postgres://localhost/app --json
 * ```
 */
import { parseArgs } from 'node:util'
import { DqError, messageOf } from '../../kernel/errors.ts'
import { alerts } from './alerts.ts'
import { type Command, type Flags, type Io, OPTIONS } from './context.ts'
import { demo } from './demo.ts'
import { history } from './history.ts'
import { migrate } from './migrate.ts'
import { run } from './run.ts'
import { serve } from './serve.ts'
import { validate } from './validate.ts'

export type { Io } from './context.ts'

const COMMANDS: readonly Command[] = [demo, migrate, run, history, validate, serve, alerts]

const MAIN_HELP = `dq: data-quality checks for PostgreSQL / Supabase

Usage: dq <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Run "dq <command> --help" for a command's options.

Slack (run --notify, demo): SLACK_WEBHOOK_URL, optional SLACK_WEBHOOK_URL_CRITICAL
(alerts of critical checks go there), optional DQ_DATABASE_LABEL (the name shown).

Database (migrate, run, history, validate, alerts, serve): --db URL, else DQ_DATABASE_URL,
else SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY (a Supabase project through its API).
  postgres://user@host:5432/db   a PostgreSQL server
  pglite:memory | pglite:DIR     embedded PostgreSQL (PGlite)
Checks run as the dq_monitor role (grant it usage and select on what they read);
DQ_ALLOW_PRIVILEGED_LOGIN=1 runs them as a login that can do more than read and
cannot become dq_monitor.

Exit codes: 0 all checks pass or warn, 1 a check fails, 2 a check errors or the input is invalid.
`

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const asked = COMMANDS.find((c) => c.name === rest[0])
    io.stdout.write(asked?.help ?? MAIN_HELP)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    io.stderr.write(`dq: unknown command "${name}"\n\n${MAIN_HELP}`)
    return 2
  }
  let args = rest
  let subcommand: string | undefined
  if (command.subcommands) {
    const [word, ...after] = rest
    const asksHelp = rest.includes('--help') || rest.includes('-h')
    if (word !== undefined && command.subcommands.includes(word)) {
      subcommand = word
      args = after
    } else if (word !== undefined && !word.startsWith('-')) {
      io.stderr.write(`dq ${name}: unknown subcommand "${word}"\n\n${command.help}`)
      return 2
    } else if (!asksHelp) {
      io.stderr.write(
        `dq ${name}: say what to do: ${command.subcommands.map((s) => `dq ${name} ${s}`).join(', ')}\n\n${command.help}`,
      )
      return 2
    }
  }
  let flags: Flags
  try {
    flags = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false })
      .values as Flags
    for (const key of Object.keys(flags) as (keyof typeof OPTIONS)[]) {
      if (key !== 'help' && !command.options.includes(key)) {
        throw new DqError('invalid_input', `option --${key} does not apply to "dq ${name}"`)
      }
    }
  } catch (error) {
    io.stderr.write(`dq ${name}: ${messageOf(error)}\n\n${command.help}`)
    return 2
  }
  if (flags.help) {
    io.stdout.write(command.help)
    return 0
  }
  try {
    return await command.run(flags, io, subcommand)
  } catch (error) {
    io.stderr.write(`dq ${name}: ${messageOf(error)}\n`)
    return 2
  }
}
