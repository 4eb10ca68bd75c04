/**
 * What every `dq` command shares: its streams and environment (injectable for
 * tests), the option table, the database and the output style.
 *
 * @example
 * ```ts
 * export const history: Command = { name: 'history', summary, help, options: ['check', 'db'],
 *   run: (flags, io) => withDatabase(flags, io, async (port) => { ... }) }
 * ```
 */

import { openDatabase } from '../../db/open-database.ts'
import { DqError } from '../../kernel/errors.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { wholeNumberProblem } from '../../kernel/whole-number.ts'
import type { Style } from './output.ts'

export type Io = {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

/** Every option of every command, as node:util parseArgs reads them. */
export const OPTIONS = {
  catalog: { type: 'string' },
  check: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  db: { type: 'string' },
  json: { type: 'boolean' },
  notify: { type: 'boolean' },
  all: { type: 'boolean' },
  limit: { type: 'string' },
  port: { type: 'string' },
  serve: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

export type OptionName = keyof typeof OPTIONS

export type Flags = {
  catalog?: string
  check?: string[]
  tag?: string[]
  db?: string
  json?: boolean
  notify?: boolean
  all?: boolean
  limit?: string
  port?: string
  serve?: boolean
  help?: boolean
}

export type Command = {
  name: string
  /** One line for `dq --help`. */
  summary: string
  /** `dq <command> --help`. */
  help: string
  /** The options it takes (besides --help). */
  options: readonly OptionName[]
  /** Positional words it takes, e.g. `dq alerts preview`; default none. */
  subcommands?: readonly string[]
  run(flags: Flags, io: Io, subcommand?: string): Promise<number>
}

/** Database selection, the same in every command (db/open-database.ts). */
export const DATABASE_HELP = `--db URL         database; default DQ_DATABASE_URL, else SUPABASE_URL +
                   SUPABASE_SERVICE_ROLE_KEY (a Supabase project through its API)`

export const CATALOG_HELP = `--catalog FILE   catalog (.json, or a .ts/.js module exporting it); default
                   DQ_CATALOG, then ./checks/catalog.json, then the demo catalog
                   bundled with dq-monitor (said on stderr when it is used)`

export function styleFor(stream: { isTTY?: boolean }, io: Io): Style {
  return { color: Boolean(stream.isTTY) && !io.env.NO_COLOR }
}

/** Opens the database that --db or the environment selects, for the duration of `use`. */
export async function withDatabase<T>(
  flags: Pick<Flags, 'db'>,
  io: Io,
  use: (port: DatabasePort) => Promise<T>,
): Promise<T> {
  const port = await openDatabase({ reference: flags.db, env: io.env })
  try {
    return await use(port)
  } finally {
    await port.close()
  }
}

/**
 * A numeric option: digits only (no "1e3", "0x10" or "1.5"), within bounds;
 * `default` when it is not given. DqError('invalid_input') naming the option.
 */
export function wholeNumber(
  option: string,
  value: string | undefined,
  bounds: { min: number; max: number; default: number },
): number {
  if (value === undefined) return bounds.default
  const problem = wholeNumberProblem(option, value, bounds)
  if (problem) throw new DqError('invalid_input', problem)
  return Number(value)
}
