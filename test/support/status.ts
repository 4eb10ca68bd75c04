/**
 * Driving the status page the way a browser does, for tests: form posts from
 * the page's own origin, the session cookie sent back, the CSRF token read
 * from a page. Free of Node APIs: the workerd tests use it too.
 *
 * @example
 * ```ts
 * const request = (path, init) => app.request(`http://dq.test${path}`, init)
 * const cookie = await signIn(request, TOKEN)
 * const html = await (await request('/', { headers: { cookie } })).text()
 * await request('/logout', formPost({ csrf: csrfIn(html) }, cookie))
 * ```
 */

export const ORIGIN = 'http://dq.test'

type Request = (path: string, init?: RequestInit) => Promise<Response>

/** A form POST, as a browser sends it from a page of `origin`. */
export function formPost(
  fields: Record<string, string>,
  cookie?: string,
  origin = ORIGIN,
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin,
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  }
}

/** The `name=value` of a Set-Cookie header, as the browser sends it back. */
export const cookieOf = (response: Response): string =>
  response.headers.get('set-cookie')?.split(';')[0] ?? ''

/** The CSRF token of the first form in a page. */
export const csrfIn = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''

/** Signs in with the API token; the session cookie to send back. */
export async function signIn(request: Request, token: string): Promise<string> {
  const response = await request('/login', formPost({ token }))
  if (response.status !== 303) throw new Error(`sign-in answered ${response.status}`)
  return cookieOf(response)
}

/** The rows of the overview's checks table, by check name. */
export const checkRows = (html: string): string[] =>
  [...html.matchAll(/<tr id="check-([a-z0-9_]+)"/g)].map((m) => m[1] as string)
