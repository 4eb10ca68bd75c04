/**
 * DQ_API_TOKEN, checked once at start-up (CLI) or per invocation (Worker): at
 * least 16 characters, and only those RFC 6750 lets a bearer token carry
 * (letters, digits, "-", ".", "_", "~", "+", "/", trailing "="). A token with
 * a space or a "!" would be accepted here and then refused on every request.
 *
 * @example
 * ```ts
 * const token = apiToken(process.env.DQ_API_TOKEN, 'DQ_API_TOKEN')
 * ```
 */
import { z } from 'zod'
import { DqError } from '../kernel/errors.ts'

/** RFC 6750 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

export const ApiTokenSchema = z
  .string({ error: 'is not set' })
  .min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)')
  .regex(
    B64TOKEN,
    'may hold only letters, digits and - . _ ~ + / (then "=" at the end): the characters an "Authorization: Bearer" header carries (e.g. openssl rand -hex 32)',
  )

/** The token, or DqError('config') naming the setting (never echoing the value). */
export function apiToken(value: string | undefined, setting: string): string {
  const parsed = ApiTokenSchema.safeParse(value)
  if (!parsed.success) {
    throw new DqError('config', `${setting} ${parsed.error.issues[0]?.message ?? 'is not valid'}`)
  }
  return parsed.data
}
