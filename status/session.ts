/**
 * Who may see the status page, and that a form really comes from it.
 *
 * - **Sign-in:** `POST /login` exchanges DQ_API_TOKEN (compared in constant
 *   time) for a session cookie: `__Host-dq_session`, HttpOnly, Secure,
 *   SameSite=Strict, Path=/, 12 hours. Its value carries its own expiry and is
 *   signed (HMAC-SHA256, hono/cookie) with a key derived from DQ_API_TOKEN, so
 *   a replayed old cookie is refused and rotating the token signs everyone out.
 * - **Cloudflare Access (optional):** with CF_ACCESS_TEAM_DOMAIN and
 *   CF_ACCESS_AUD set, a request whose `Cf-Access-Jwt-Assertion` verifies
 *   (RS256 against the team's JWKS, audience, issuer and expiry) is signed in.
 *   The JWKS is cached ten minutes and fetched at most once a minute, however
 *   many headers name a key it lacks.
 * - **CSRF:** every POST is refused unless it comes from this origin (hono/csrf:
 *   Origin or Sec-Fetch-Site) and, once signed in, carries the session's token
 *   in the `csrf` field (an HMAC of the session id, compared in constant time).
 *
 * @example
 * ```ts
 * const viewer = await viewerOf(c, { token, access })   // undefined: signed out
 * if (viewer && (await csrfMatches(c, viewer))) ...
 * ```
 */
import type { Context, MiddlewareHandler } from 'hono'
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie'
import { csrf } from 'hono/csrf'
import { HTTPException } from 'hono/http-exception'
import { verifyWithJwks } from 'hono/jwt'
import { timingSafeEqual } from 'hono/utils/buffer'
import { encodeBase64Url } from 'hono/utils/encode'
import { z } from 'zod'
import { DqError } from '../kernel/errors.ts'

/** The cookie's name without its `__Host-` prefix (hono/cookie adds it). */
const SESSION_COOKIE = 'dq_session'
export const SESSION_SECONDS = 12 * 60 * 60

/** A signed-in person: how, who (for the page header), and their CSRF token. */
export type Viewer = { via: 'token' | 'access'; name: string; csrf: string }

/** Cloudflare Access, when configured (see `accessSettings`). */
export type AccessSettings = {
  /** https://<team>.cloudflareaccess.com: the JWT's issuer; its JWKS is below it. */
  issuer: string
  /** The Access application's Audience (AUD) tag. */
  audience: string
  /** How the JWKS is fetched (tests inject one); default the global fetch. */
  fetch?: (url: string) => Promise<Response>
  /** The clock of the JWKS cache, epoch milliseconds (tests inject one); default Date.now. */
  now?: () => number
}

export type SessionSettings = { token: string; access?: AccessSettings | undefined }

const encoder = new TextEncoder()

// Web Crypto's types, named without the DOM library (Node and workerd both have the API).
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
type Jwk = NonNullable<Parameters<typeof verifyWithJwks>[1]['keys']>[number]

async function hmacKey(secret: Uint8Array | ArrayBuffer): Promise<HmacKey> {
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
}

async function hmac(key: HmacKey, text: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign('HMAC', key, encoder.encode(text))
}

const sessionKeys = new Map<string, Promise<{ secret: ArrayBuffer; key: HmacKey }>>()

/**
 * The page's own key, derived from DQ_API_TOKEN (never the token itself, so a
 * cookie or CSRF token says nothing about it). Cached per token.
 */
function sessionKey(token: string) {
  let key = sessionKeys.get(token)
  if (!key) {
    key = (async () => {
      const secret = await hmac(
        await hmacKey(encoder.encode(token)),
        'dq-monitor status session v1',
      )
      return { secret, key: await hmacKey(secret) }
    })()
    sessionKeys.set(token, key)
  }
  return key
}

/** The CSRF token of a session: bound to it, useless for any other. */
async function csrfToken(token: string, sessionId: string): Promise<string> {
  return encodeBase64Url(await hmac((await sessionKey(token)).key, `csrf:${sessionId}`))
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Is this the API token? Constant time (hono's timingSafeEqual hashes both sides). */
export async function tokenMatches(given: string, token: string): Promise<boolean> {
  return given.length > 0 && (await timingSafeEqual(given, token))
}

/** Sets a new session cookie: `<expires>.<id>`, signed. */
export async function startSession(c: Context, token: string): Promise<void> {
  const id = encodeBase64Url(crypto.getRandomValues(new Uint8Array(18)).buffer)
  const expires = nowSeconds() + SESSION_SECONDS
  await setSignedCookie(c, SESSION_COOKIE, `${expires}.${id}`, (await sessionKey(token)).secret, {
    prefix: 'host',
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    path: '/',
    maxAge: SESSION_SECONDS,
  })
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { prefix: 'host', path: '/', secure: true })
}

/** The signed-in person of a session cookie; undefined when missing, forged or expired. */
async function cookieViewer(c: Context, token: string): Promise<Viewer | undefined> {
  const value = await getSignedCookie(c, (await sessionKey(token)).secret, SESSION_COOKIE, 'host')
  if (!value) return undefined // missing (undefined) or a bad signature (false)
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{16,64})$/.exec(value)
  if (!match) return undefined
  // The expiry is inside the signed value: the cookie's Max-Age alone is the browser's word.
  if (Number(match[1]) <= nowSeconds()) return undefined
  return {
    via: 'token',
    name: 'signed in with the API token',
    csrf: await csrfToken(token, match[2] as string),
  }
}

// The team's signing keys, per JWKS URL, for ten minutes (Cloudflare rotates them every six weeks).
const JWKS_SECONDS = 600
// At most one fetch a minute per JWKS URL, whatever the requests carry: a header with an unknown
// key id asks for a fetch, and anyone can send one, so an unbounded refetch would let them make
// this server hammer Access (and wait on it) at will.
const JWKS_FETCH_INTERVAL_SECONDS = 60
type TeamKeys = {
  /** The last set fetched, and when (epoch seconds); none before the first fetch succeeds. */
  keys?: Jwk[]
  fetchedAt?: number
  /** The last fetch (in flight or done) and when it started: the next waits a minute after it. */
  fetch: Promise<Jwk[]>
  startedAt: number
}
const jwksCache = new Map<string, TeamKeys>()

const JwksSchema = z.object({
  keys: z.array(
    z.custom<Jwk>(
      (key) =>
        typeof key === 'object' &&
        key !== null &&
        typeof (key as { kty?: unknown }).kty === 'string',
      'a JWK has a "kty"',
    ),
  ),
})

/**
 * The team's keys: the cached set while it is under ten minutes old (unless
 * `refresh`, a key id it lacks); a new fetch only when the last one started a
 * minute ago or more, else the last fetch's answer (its keys, or the set
 * before it when it failed).
 */
async function teamKeys(access: AccessSettings, refresh: boolean): Promise<Jwk[]> {
  const url = `${access.issuer}/cdn-cgi/access/certs`
  const now = Math.floor((access.now ?? Date.now)() / 1000)
  const cached = jwksCache.get(url)
  if (cached?.keys && cached.fetchedAt !== undefined) {
    if (!refresh && now - cached.fetchedAt < JWKS_SECONDS) return cached.keys
  }
  if (cached && now - cached.startedAt < JWKS_FETCH_INTERVAL_SECONDS) {
    return cached.fetch.catch((error) => {
      if (cached.keys) return cached.keys
      throw error
    })
  }
  const fetched = (async () => {
    const response = await (access.fetch ?? fetch)(url)
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`)
    return JwksSchema.parse(await response.json()).keys
  })()
  const entry: TeamKeys = {
    keys: cached?.keys,
    fetchedAt: cached?.fetchedAt,
    startedAt: now,
    fetch: fetched.then((keys) => {
      entry.keys = keys
      entry.fetchedAt = now
      return keys
    }),
  }
  // Failures are answered by whoever awaits this fetch; none is left unhandled.
  entry.fetch.catch(() => {})
  jwksCache.set(url, entry)
  return entry.fetch
}

const AccessClaimsSchema = z.looseObject({
  exp: z.number(),
  sub: z.string().min(1),
  email: z.string().optional(),
})

/** The person a Cloudflare Access JWT names, when it verifies; undefined otherwise. */
async function accessViewer(
  c: Context,
  settings: SessionSettings & { access: AccessSettings },
): Promise<Viewer | undefined> {
  const assertion = c.req.header('cf-access-jwt-assertion')
  if (!assertion) return undefined
  const { access } = settings
  const verify = async (refresh: boolean) =>
    verifyWithJwks(assertion, {
      keys: await teamKeys(access, refresh),
      allowedAlgorithms: ['RS256'],
      verification: { aud: access.audience, iss: access.issuer, exp: true, nbf: true },
    })
  try {
    let payload: unknown
    try {
      payload = await verify(false)
    } catch (error) {
      // A key Cloudflare rotated in since the cache was filled: fetch the set again, once.
      if ((error as Error).name !== 'JwtTokenInvalid') throw error
      payload = await verify(true)
    }
    // Access always sets exp; a token without one would never expire, so it is refused.
    const claims = AccessClaimsSchema.parse(payload)
    return {
      via: 'access',
      name: claims.email ?? claims.sub,
      csrf: await csrfToken(settings.token, `access:${claims.sub}`),
    }
  } catch (error) {
    // The name only: hono's messages quote the token, a credential.
    console.warn(`dq-monitor: a Cloudflare Access JWT was refused (${(error as Error).name})`)
    return undefined
  }
}

/** Who is asking: Cloudflare Access first (when configured), then the session cookie. */
export async function viewerOf(c: Context, settings: SessionSettings): Promise<Viewer | undefined> {
  if (settings.access) {
    const viewer = await accessViewer(c, { ...settings, access: settings.access })
    if (viewer) return viewer
  }
  return cookieViewer(c, settings.token)
}

/** Does the form carry this viewer's CSRF token? Constant time. */
export async function csrfMatches(c: Context, viewer: Viewer): Promise<boolean> {
  const body = await c.req.parseBody()
  const given = typeof body.csrf === 'string' ? body.csrf : ''
  return tokenMatches(given, viewer.csrf)
}

/**
 * hono/csrf: a POST from a form on another site (its Origin, or Sec-Fetch-Site
 * when the browser sends no Origin) is refused before anything else runs, with
 * `onRefused`'s answer (the page explains; hono's own is a bare "Forbidden").
 */
export function sameOrigin(
  onRefused: (c: Context) => Response | Promise<Response>,
): MiddlewareHandler {
  const check = csrf()
  return async (c, next) => {
    try {
      await check(c, next)
    } catch (error) {
      if (error instanceof HTTPException && error.status === 403) {
        c.res = await onRefused(c)
        return
      }
      throw error
    }
  }
}

const TEAM_DOMAIN =
  /^(?:https:\/\/)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.cloudflareaccess\.com)?\/?$/

/**
 * Cloudflare Access from the environment (Worker bindings or `dq serve`'s):
 * both CF_ACCESS_TEAM_DOMAIN (`<team>.cloudflareaccess.com`, or the team name
 * alone) and CF_ACCESS_AUD (the application's Audience tag), or neither.
 * Throws DqError('config') naming the setting.
 */
export function accessSettings(env: {
  CF_ACCESS_TEAM_DOMAIN?: string | undefined
  CF_ACCESS_AUD?: string | undefined
}): AccessSettings | undefined {
  const team = env.CF_ACCESS_TEAM_DOMAIN?.trim() || undefined
  const audience = env.CF_ACCESS_AUD?.trim() || undefined
  if (!team && !audience) return undefined
  if (!team || !audience) {
    const missing = team ? 'CF_ACCESS_AUD' : 'CF_ACCESS_TEAM_DOMAIN'
    throw new DqError(
      'config',
      `${missing} is not set: Cloudflare Access needs both CF_ACCESS_TEAM_DOMAIN (<team>.cloudflareaccess.com) and CF_ACCESS_AUD (Zero Trust → Access → Applications → your application → Application Audience (AUD) tag), or neither`,
    )
  }
  const match = TEAM_DOMAIN.exec(team.toLowerCase())
  if (!match) {
    throw new DqError(
      'config',
      'CF_ACCESS_TEAM_DOMAIN must be your team domain, e.g. "acme.cloudflareaccess.com" (or "acme")',
    )
  }
  return { issuer: `https://${match[1]}.cloudflareaccess.com`, audience }
}
