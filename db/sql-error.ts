/**
 * Database errors as DqErrors whose message says what to do. The database's
 * own message is kept: it names the relation, column or expression at fault.
 *
 * @example
 * ```ts
 * try { await sql`...` } catch (e) { throw databaseError(e) }
 * ```
 */
import { DqError, messageOf } from '../kernel/errors.ts'

/** SQLSTATEs with a better message than the database's alone. */
const HINTS: Record<string, { code: 'timeout' | 'not_migrated' | 'database'; hint: string }> = {
  '57014': {
    code: 'timeout',
    hint: 'the check ran longer than its timeoutSeconds: raise timeoutSeconds, add an index, or narrow it with "where"',
  },
  '55P03': {
    code: 'timeout',
    hint: 'a table lock was not granted in time (another session holds it): the check will run again next time',
  },
  '42501': {
    code: 'database',
    hint: 'permission denied: grant the monitor role (dq_monitor or service_role) usage on the schema and select on the table',
  },
  '3F000': {
    code: 'not_migrated',
    hint: 'schema dq is missing: run "dq migrate" against this database',
  },
}

export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const code = (error as { code: unknown }).code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
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
  if (state === 'DQ409') {
    return new DqError('check_running', message, { sqlstate: state })
  }
  const known = state ? HINTS[state] : undefined
  if (known) {
    return new DqError(known.code, `${message} (${known.hint})`, { sqlstate: state })
  }
  return new DqError('database', message, state ? { sqlstate: state } : undefined)
}
