/**
 * Database errors as DqErrors whose message says what to do. The database's
 * own message is kept: it names the relation, column or expression at fault.
 * A dropped connection is its own code (`connection_lost` during a call,
 * `unavailable` when none could be made), never a crash.
 *
 * @example
 * ```ts
 * try { await client.query(text) } catch (e) { throw databaseError(e) }
 * ```
 */
import { DqError, type ErrorCode, messageOf } from '../kernel/errors.ts'

/** SQLSTATEs with a better message than the database's alone. */
const HINTS: Record<string, { code: ErrorCode; hint: string }> = {
  '57014': {
    code: 'timeout',
    hint: 'the check ran longer than its timeoutSeconds: raise timeoutSeconds, add an index, or narrow it with "where"',
  },
  '55P03': {
    code: 'timeout',
    hint: 'a table lock was not granted in time (another session holds it): the check will run again next time',
  },
  '3F000': {
    code: 'not_migrated',
    hint: 'schema dq is missing: run "dq migrate" against this database',
  },
  '2F003': {
    code: 'database',
    hint: 'checks run as the dq_monitor role, without superuser powers: a catalog expression may only read this database (dblink and other connections out are refused)',
  },
}

/**
 * 42501 (insufficient privilege) says different things: which one decides
 * the fix. Checks run as dq_monitor when the login may become it.
 */
const PERMISSION_HINTS: [RegExp, (match: RegExpExecArray) => string][] = [
  [
    /permission denied for schema dq\b/,
    () =>
      'the login cannot use schema dq: grant dq_monitor to it (the migration grants dq_monitor everything in dq), or, through the Supabase API, use the service_role key',
  ],
  [
    /permission denied for schema "?([^"\s]+)"?/,
    (m) =>
      `the monitor cannot use schema ${m[1]}: grant usage on schema ${m[1]} to dq_monitor (Supabase API: to service_role)`,
  ],
  [
    /permission denied for (?:table|relation|view|materialized view|foreign table) "?([^"\s]+)"?/,
    (m) =>
      `the monitor cannot read ${m[1]}: grant select on it to dq_monitor (Supabase API: to service_role), e.g. grant select on all tables in schema <schema> to dq_monitor`,
  ],
  [
    /permission denied for sequence/,
    () => 'a check may only read: it cannot use a sequence (nextval writes)',
  ],
  [
    /permission denied for function dq\./,
    () =>
      'the login cannot run the dq functions: grant dq_monitor to it, or run "dq migrate" again (it grants them to dq_monitor and service_role)',
  ],
  [
    /permission denied for function (lo_import|lo_export|pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file|pg_file_write)\b/,
    (m) =>
      `checks run as the dq_monitor role and may only read the database: ${m[1]} reads or writes files on the server`,
  ],
  [
    /permission denied for function "?([^"\s]+)"?/,
    (m) =>
      `the monitor cannot run function ${m[1]}: grant execute on function ${m[1]} to dq_monitor, if a check is meant to call it`,
  ],
  [
    /permission denied to set role|must be member of role|must be able to SET ROLE/,
    () => 'grant dq_monitor to the login: checks run as that role',
  ],
  [
    /must be superuser|must be a member of the role whose|permission denied to terminate|permission denied to cancel|permission denied to (?:signal|read|write|execute)|pg_read_server_files|pg_write_server_files|pg_execute_server_program|pg_signal_backend/,
    () =>
      'checks run as the dq_monitor role, without superuser powers: a catalog expression may only read (this one needs more)',
  ],
]

/** Errors that mean the connection itself is gone (terminated, reset, unreachable). */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03'])
const CONNECTION_MESSAGES =
  /Connection terminated|connection (?:was )?closed|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|socket hang up|Client has encountered a connection error|Connection ended|server closed the connection|timeout expired|terminating connection/i

export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const code = (error as { code: unknown }).code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** Does this error mean the connection is gone (rather than the statement failed)? */
export function isConnectionError(error: unknown): boolean {
  const state = sqlState(error)
  if (state) return CONNECTION_STATES.has(state) || state.startsWith('08')
  return CONNECTION_MESSAGES.test(messageOf(error))
}

/**
 * A connection that died: `lost` while a call ran (that call is an error,
 * the next one gets a fresh connection), `unavailable` when none could be made.
 */
export function connectionError(error: unknown, phase: 'connect' | 'call', fn?: string): DqError {
  const reason = messageOf(error).split('\n')[0] ?? 'connection failed'
  if (phase === 'connect') {
    return new DqError(
      'unavailable',
      `database unavailable: ${reason} (check the host, port and credentials, and that the server is up)`,
      { cause: sqlState(error) ?? 'network' },
    )
  }
  return new DqError(
    'connection_lost',
    `connection lost${fn ? ` while running dq.${fn}` : ''}: ${reason} (the connection was dropped or terminated; the next call uses a fresh one)`,
    { cause: sqlState(error) ?? 'network' },
  )
}

export function databaseError(error: unknown): DqError {
  if (error instanceof DqError) return error
  const state = sqlState(error)
  const message = messageOf(error)
  if (state === '42883' && /function dq\./.test(message)) {
    return new DqError('not_migrated', `${message}: run "dq migrate" against this database`, {
      sqlstate: state,
    })
  }
  if (state === '3F000' && !/schema "dq"/.test(message)) {
    return new DqError('database', message, { sqlstate: state })
  }
  if (state === 'DQ409') return new DqError('check_running', message, { sqlstate: state })
  if (state === 'DQ403') return new DqError('privileged_login', message, { sqlstate: state })
  if (state === '42501') {
    for (const [pattern, hint] of PERMISSION_HINTS) {
      const match = pattern.exec(message)
      if (match) return new DqError('database', `${message} (${hint(match)})`, { sqlstate: state })
    }
    return new DqError(
      'database',
      `${message} (permission denied: checks run as dq_monitor; grant it what the message names)`,
      { sqlstate: state },
    )
  }
  const known = state ? HINTS[state] : undefined
  if (known) {
    return new DqError(known.code, `${message} (${known.hint})`, { sqlstate: state })
  }
  return new DqError('database', message, state ? { sqlstate: state } : undefined)
}
