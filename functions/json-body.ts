/**
 * Request bodies of the JSON API, read strictly: never run something other
 * than what was asked. A body that is not JSON by its content type is 415
 * (curl's `-d` sends `application/x-www-form-urlencoded`), malformed JSON is
 * 400, both in the API's JSON error shape; an empty body means `{}` where the
 * route allows it. Bodies are bounded (413) and nothing unbounded is echoed.
 *
 * @example
 * ```ts
 * app.post('/runs', jsonBody(RunManyBody, { emptyIs: {} }), (c) => c.json(c.req.valid('json')))
 * ```
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { validator } from 'hono/validator'
import type { z } from 'zod'
import type { ErrorBody } from '../kernel/errors.ts'

/** The largest body any route takes: a list of check names fits many times over. */
const MAX_BODY_BYTES = 64 * 1024

/** At most this much of any input goes back into an answer. */
const ECHO = 120

export const errorBody = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: { code, message, ...(details === undefined ? {} : { details }) },
})

/** Text from a request, fit to quote in an answer: one line, bounded. */
export function echo(text: string, max = ECHO): string {
  const line = text.replace(/\s+/g, ' ')
  return line.length > max ? `${line.slice(0, max)}… (${text.length} characters)` : line
}

export const limitBody: MiddlewareHandler = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) =>
    c.json(
      errorBody(
        'payload_too_large',
        `the request body is larger than ${MAX_BODY_BYTES / 1024} KiB: send check names and tags, not data`,
      ),
      413,
    ),
})

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * Parses and validates the JSON body with `schema` (zod): 415 for another
 * content type, 400 for malformed JSON or an invalid body (zod's issues,
 * bounded). `emptyIs`: what an empty body means; without it a body is required.
 */
export function jsonBody<T extends z.ZodType>(schema: T, options: { emptyIs?: unknown } = {}) {
  const parse = validator('json', async (value, c: Context) => {
    const type = c.req.header('content-type') ?? ''
    if (JSON_TYPE.test(type)) return validated(schema, value, c)
    return c.json(
      errorBody(
        'unsupported_media_type',
        `the body must be JSON sent with "content-type: application/json" (got ${type ? `"${echo(type, 60)}"` : 'no content type'}; with curl add -H 'content-type: application/json')`,
      ),
      415,
    )
  })
  const middleware: typeof parse = async (c, next) => {
    if ((await c.req.text()).trim() === '') {
      if (options.emptyIs === undefined) {
        return c.json(errorBody('invalid_input', 'a JSON body is required'), 400)
      }
      const defaults = validated(schema, options.emptyIs, c)
      if (defaults instanceof Response) return defaults
      c.req.addValidatedData('json', defaults as object)
      return next()
    }
    try {
      return await parse(c, next)
    } catch (error) {
      // Hono's own parse failure, in the API's error shape.
      if (
        error instanceof HTTPException &&
        error.status === 400 &&
        /Malformed JSON/.test(error.message)
      ) {
        return c.json(errorBody('invalid_json', 'the body is not valid JSON'), 400)
      }
      throw error
    }
  }
  return middleware
}

function validated<T extends z.ZodType>(schema: T, input: unknown, c: Context) {
  const result = schema.safeParse(input)
  if (result.success) return result.data as z.infer<T>
  return c.json(
    errorBody(
      'invalid_input',
      'the request body is not valid',
      result.error.issues.slice(0, 20).map((i) => ({
        path: echo(i.path.join('.'), 80),
        message: echo(i.message),
      })),
    ),
    400,
  )
}
