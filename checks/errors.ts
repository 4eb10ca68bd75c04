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
  'timeout',
  'not_migrated',
  'check_running',
  'config',
  'internal',
])
export type ErrorCode = z.infer<typeof ErrorCodeSchema>

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBodySchema>

export class DqError extends Error {
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message)
    this.name = 'DqError'
    this.code = code
    this.details = details
  }

  toJSON(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    }
  }
}

/** Any thrown value as a message fit to show a user (never a stack). */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
