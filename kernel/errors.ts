/**
 * Errors are values with a code a program can branch on and a message a person
 * can act on. They cross every layer (SQL, runner, CLI, HTTP) in this shape.
 *
 * @example
 * ```ts
 * throw new DqError('unknown_check', 'no check named "x" in the catalog')
 * // the CLI prints the message; HTTP answers { error: { code, message } }
 * ```
 */
import { z } from 'zod'

export const ErrorCodeSchema = z.enum([
  'invalid_catalog',
  'invalid_input',
  'unknown_check',
  'database',
  /** The database could not be reached, or the connection dropped before the call began. */
  'unavailable',
  /** The connection died while a check ran (terminated backend, network): that check only. */
  'connection_lost',
  'timeout',
  'not_migrated',
  /** Another run holds this check (its single-flight lock): no measurement, no failure. */
  'check_running',
  /** The login may do more than read, and cannot become the monitor role. */
  'privileged_login',
  /** The run's results could not be written to history. */
  'not_recorded',
  /** A fanned-out check whose queue message was given up on (dead-letter queue): it never ran. */
  'never_ran',
  'config',
  'internal',
])
export type ErrorCode = z.infer<typeof ErrorCodeSchema>

/** The JSON error shape of the HTTP API. */
export type ErrorBody = { error: { code: string; message: string; details?: unknown } }

export class DqError extends Error {
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message)
    this.name = 'DqError'
    this.code = code
    this.details = details
  }
}

/** Any thrown value as a message fit to show a user (never a stack). */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** The code of a DqError, else undefined. */
export function codeOf(error: unknown): ErrorCode | undefined {
  return error instanceof DqError ? error.code : undefined
}

/** What a caller is told when the database went away; the details go to the service logs. */
export const DATABASE_UNAVAILABLE = 'database unavailable (see the service logs); try again later'
