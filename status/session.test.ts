// Sign-in, the session cookie, CSRF and Cloudflare Access, through the pages'
// own routes: every way in that must fail does (wrong token, expired or forged
// cookie, missing or wrong CSRF token, a POST from another site, an Access JWT
// with a wrong audience, expired or badly signed), and the ways in work.
import type { webcrypto } from 'node:crypto'
import { Hono } from 'hono'
import { sign } from 'hono/jwt'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseCatalog } from '../checks/catalog.ts'
import { useDatabase } from '../test/support/databases.ts'
import { cookieOf, csrfIn, ORIGIN } from '../test/support/status.ts'
import { type StatusServices, statusPages } from './index.ts'
import { type AccessSettings, accessSettings, SESSION_SECONDS } from './session.ts'

const TOKEN = 'status-test-token-0123456789'
const catalog = parseCatalog({
  checks: [{ name: 'orders_dups', kind: 'duplicates', table: 'shop.orders', columns: ['ref'] }],
})

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

describe('status page sign-in, cookie, CSRF and Cloudflare Access', () => {
  const database = useDatabase('pglite')
  let access: AccessSettings | undefined
  const runs = vi.fn()
  const app = new Hono<{ Variables: { services: StatusServices } }>()
  app.use('*', async (c, next) => {
    c.set('services', {
      catalog,
      token: TOKEN,
      access,
      withDatabase: (use) => {
        runs()
        return use(database().db)
      },
    })
    await next()
  })
  app.route('/', statusPages())
  const request = (path: string, init: RequestInit = {}) => app.request(`${ORIGIN}${path}`, init)

  const signIn = async (token = TOKEN, next?: string) =>
    request('/login', {
      method: 'POST',
      headers: { ...FORM, origin: ORIGIN },
      body: form({ token, ...(next ? { next } : {}) }),
    })

  beforeAll(async () => {
    await database().exec(
      'create schema shop; create table shop.orders (id int primary key, ref text); insert into shop.orders values (1, $$a$$), (2, $$a$$);',
    )
  })
  afterEach(() => {
    vi.useRealTimers()
    access = undefined
  })

  describe('signed out', () => {
    it('every page redirects to the sign-in form, and back after', async () => {
      const home = await request('/')
      expect(home.status).toBe(303)
      expect(home.headers.get('location')).toBe('/login')
      const check = await request('/check/orders_dups?ran=1')
      expect(check.headers.get('location')).toBe('/login?next=%2Fcheck%2Forders_dups%3Fran%3D1')
      expect((await request('/coverage')).status).toBe(303)
    })

    it('the bearer header does not sign a browser in', async () => {
      const response = await request('/', { headers: { Authorization: `Bearer ${TOKEN}` } })
      expect(response.status).toBe(303)
    })

    it('the sign-in form: labelled, a password field, no script', async () => {
      const response = await request('/login')
      expect(response.status).toBe(200)
      const html = await response.text()
      expect(html).toContain('<html lang="en">')
      expect(html).toMatch(/<label for="token">API token<\/label>/)
      expect(html).toMatch(/<input id="token" name="token" type="password"/)
      expect(html).not.toContain('<script')
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(response.headers.get('cache-control')).toBe('no-store')
    })
  })

  describe('POST /login', () => {
    it('the right token: a redirect to / with an HttpOnly, Secure, SameSite=Strict, 12-hour cookie', async () => {
      const response = await signIn()
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toBe('/')
      const setCookie = response.headers.get('set-cookie') ?? ''
      expect(setCookie).toMatch(/^__Host-dq_session=\d+\.[A-Za-z0-9_-]+\.[^;]+;/)
      for (const attribute of [
        'HttpOnly',
        'Secure',
        'SameSite=Strict',
        'Path=/',
        `Max-Age=${SESSION_SECONDS}`,
      ]) {
        expect(setCookie).toContain(attribute)
      }
      expect(SESSION_SECONDS).toBe(12 * 3600)
      const home = await request('/', { headers: { cookie: cookieOf(response) } })
      expect(home.status).toBe(200)
      expect(await home.text()).toContain('orders_dups')
    })

    it('a wrong token: 401, the form again with the problem, no cookie', async () => {
      const response = await signIn('not-the-token-at-all-0000')
      expect(response.status).toBe(401)
      expect(response.headers.get('set-cookie')).toBeNull()
      const html = await response.text()
      expect(html).toContain('role="alert"')
      expect(html).toContain('That is not the API token of this deployment.')
      expect(html).toContain('name="token"')
      const empty = await signIn('')
      expect(empty.status).toBe(401)
      expect(empty.headers.get('set-cookie')).toBeNull()
    })

    it('goes back to the page asked for, never to another site', async () => {
      expect((await signIn(TOKEN, '/check/orders_dups')).headers.get('location')).toBe(
        '/check/orders_dups',
      )
      expect((await signIn(TOKEN, '//evil.example/x')).headers.get('location')).toBe('/')
      expect((await signIn(TOKEN, 'https://evil.example/')).headers.get('location')).toBe('/')
    })

    it('from another site (its Origin), or with neither Origin nor Sec-Fetch-Site: 403, no cookie', async () => {
      for (const headers of [
        { ...FORM, origin: 'https://evil.example' },
        { ...FORM, 'sec-fetch-site': 'cross-site' },
        { ...FORM },
      ]) {
        const response = await request('/login', {
          method: 'POST',
          headers,
          body: form({ token: TOKEN }),
        })
        expect(response.status).toBe(403)
        expect(response.headers.get('set-cookie')).toBeNull()
        expect(await response.text()).toContain('sent from another site')
      }
      // The browser's own same-origin marker is enough without Origin.
      const sameOrigin = await request('/login', {
        method: 'POST',
        headers: { ...FORM, 'sec-fetch-site': 'same-origin' },
        body: form({ token: TOKEN }),
      })
      expect(sameOrigin.status).toBe(303)
    })
  })

  describe('the session cookie', () => {
    it('expires after 12 hours even if the browser sends it again', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      const cookie = cookieOf(await signIn())
      vi.setSystemTime(Date.now() + SESSION_SECONDS * 1000 - 60_000)
      expect((await request('/', { headers: { cookie } })).status).toBe(200)
      vi.setSystemTime(Date.now() + 120_000)
      const expired = await request('/', { headers: { cookie } })
      expect(expired.status).toBe(303)
      expect(expired.headers.get('location')).toBe('/login')
    })

    it('a forged cookie is refused: a changed expiry, a made-up signature, one signed with another token', async () => {
      const cookie = decodeURIComponent(cookieOf(await signIn()))
      const [name, value] = cookie.split('=') as [string, string]
      const [expires, id, signature] = value.split('.') as [string, string, string]
      const forged = [
        `${Number(expires) + 86_400}.${id}.${signature}`,
        `${expires}.${id}.${'A'.repeat(43)}=`,
        `${expires}.${id}`,
      ]
      // Signed correctly, but with the key of another DQ_API_TOKEN (a rotated token).
      const other = new Hono<{ Variables: { services: StatusServices } }>()
      other.use('*', async (c, next) => {
        c.set('services', {
          catalog,
          token: 'another-token-0123456789',
          withDatabase: (use) => use(database().db),
        })
        await next()
      })
      other.route('/', statusPages())
      const rotated = await other.request(`${ORIGIN}/login`, {
        method: 'POST',
        headers: { ...FORM, origin: ORIGIN },
        body: form({ token: 'another-token-0123456789' }),
      })
      forged.push(decodeURIComponent(cookieOf(rotated)).split('=').slice(1).join('='))
      for (const bad of forged) {
        const response = await request('/', {
          headers: { cookie: `${name}=${encodeURIComponent(bad)}` },
        })
        expect(response.status, bad).toBe(303)
      }
    })
  })

  describe('CSRF on every POST', () => {
    const session = async () => {
      const cookie = cookieOf(await signIn())
      const csrf = csrfIn(
        await (await request('/check/orders_dups', { headers: { cookie } })).text(),
      )
      expect(csrf).not.toBe('')
      return { cookie, csrf }
    }
    const post = (path: string, cookie: string, fields: Record<string, string>, origin = ORIGIN) =>
      request(path, { method: 'POST', headers: { ...FORM, origin, cookie }, body: form(fields) })

    it('"Run now" without a token, with a wrong one, or with another session\'s: 403 and nothing runs', async () => {
      const { cookie } = await session()
      const other = await session()
      runs.mockClear()
      for (const fields of [{}, { csrf: 'not-the-token' }, { csrf: other.csrf }] as Record<
        string,
        string
      >[]) {
        const response = await post('/check/orders_dups/run', cookie, fields)
        expect(response.status).toBe(403)
        expect(await response.text()).toContain('no valid security token')
      }
      expect(runs).not.toHaveBeenCalled()
    })

    it('"Run now" from another site is refused even with the right token', async () => {
      const { cookie, csrf } = await session()
      runs.mockClear()
      const response = await post(
        '/check/orders_dups/run',
        cookie,
        { csrf },
        'https://evil.example',
      )
      expect(response.status).toBe(403)
      expect(runs).not.toHaveBeenCalled()
    })

    it("with the session's token and from this site, it runs and comes back with the result", async () => {
      const { cookie, csrf } = await session()
      const response = await post('/check/orders_dups/run', cookie, { csrf })
      expect(response.status).toBe(303)
      const location = response.headers.get('location') ?? ''
      expect(location).toMatch(/^\/check\/orders_dups\?ran=[0-9a-f-]{36}$/)
      const page = await (await request(location, { headers: { cookie } })).text()
      expect(page).toContain('Ran just now')
    })

    it('sign-out needs the token too, then clears the cookie', async () => {
      const { cookie, csrf } = await session()
      expect((await post('/logout', cookie, {})).status).toBe(403)
      expect((await post('/logout', cookie, { csrf: `${csrf}x` })).status).toBe(403)
      const response = await post('/logout', cookie, { csrf })
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toBe('/login?signed_out=1')
      expect(response.headers.get('set-cookie')).toMatch(
        /^__Host-dq_session=; Max-Age=0; Path=\/;.*Secure/,
      )
    })
  })

  describe('Cloudflare Access', () => {
    const issuer = 'https://acme.cloudflareaccess.com'
    const audience = 'a1b2c3-aud'
    const rsa = () =>
      crypto.subtle.generateKey(
        {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        true,
        ['sign', 'verify'],
      )
    type JsonWebKey = webcrypto.JsonWebKey
    type Keys = {
      private: JsonWebKey & { kid: string; alg: 'RS256' }
      public: JsonWebKey & { kid: string; alg: 'RS256' }
    }
    const keysOf = async (kid: string): Promise<Keys> => {
      const pair = (await rsa()) as webcrypto.CryptoKeyPair
      return {
        private: { ...(await crypto.subtle.exportKey('jwk', pair.privateKey)), kid, alg: 'RS256' },
        public: { ...(await crypto.subtle.exportKey('jwk', pair.publicKey)), kid, alg: 'RS256' },
      }
    }
    let team: Keys
    let rotated: Keys
    let forger: Keys
    const published: JsonWebKey[] = []
    const fetchJwks = vi.fn(async (url: string) => {
      expect(url).toBe(`${issuer}/cdn-cgi/access/certs`)
      return Response.json({ keys: published })
    })
    const now = () => Math.floor(Date.now() / 1000)
    // The JWKS cache's clock (the tokens' own expiry is checked against the real one).
    let clock = Date.now()
    const accessWith = (): AccessSettings => ({
      issuer,
      audience,
      fetch: fetchJwks,
      now: () => clock,
    })
    const claims = (more: Record<string, unknown> = {}) => ({
      aud: [audience],
      iss: issuer,
      sub: 'user-7',
      email: 'ada@example.com',
      iat: now() - 10,
      exp: now() + 600,
      ...more,
    })
    const withJwt = (jwt: string, init: RequestInit = {}) => ({
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'cf-access-jwt-assertion': jwt },
    })

    beforeAll(async () => {
      team = await keysOf('team-1')
      rotated = await keysOf('team-2')
      forger = await keysOf('team-1')
      published.push(team.public)
    })

    it('a valid JWT signs the request in; the page says who, and its CSRF token works', async () => {
      access = accessWith()
      const jwt = await sign(claims(), team.private, 'RS256')
      const response = await request('/check/orders_dups', withJwt(jwt))
      expect(response.status).toBe(200)
      const html = await response.text()
      expect(html).toContain('ada@example.com')
      expect(html).toContain('/cdn-cgi/access/logout')
      const run = await request(
        '/check/orders_dups/run',
        withJwt(jwt, {
          method: 'POST',
          headers: { ...FORM, origin: ORIGIN },
          body: form({ csrf: csrfIn(html) }),
        }),
      )
      expect(run.status).toBe(303)
    })

    it.each([
      ['a wrong audience', () => sign(claims({ aud: ['someone-else'] }), team.private, 'RS256')],
      ['an expired token', () => sign(claims({ exp: now() - 5 }), team.private, 'RS256')],
      ['no expiry at all', () => sign(claims({ exp: undefined }), team.private, 'RS256')],
      [
        'another issuer',
        () => sign(claims({ iss: 'https://evil.cloudflareaccess.com' }), team.private, 'RS256'),
      ],
      [
        "a signature by another key under the team key's id",
        () => sign(claims(), forger.private, 'RS256'),
      ],
      ['an HS256 token', () => sign(claims(), 'a shared secret', 'HS256')],
      ['not a JWT', async () => 'not.a.jwt'],
    ])('%s: not signed in', async (_, jwt) => {
      access = accessWith()
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      const response = await request('/', withJwt(await jwt()))
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toBe('/login')
      // Logged without the token itself.
      for (const [line] of warn.mock.calls) expect(String(line)).not.toMatch(/eyJ/)
      warn.mockRestore()
    })

    it('a key rotated in since the keys were cached (a minute or more ago): fetched again once', async () => {
      access = accessWith()
      await request('/', withJwt(await sign(claims(), team.private, 'RS256'))) // caches [team-1]
      published.push(rotated.public)
      fetchJwks.mockClear()
      clock += 61_000
      const response = await request('/', withJwt(await sign(claims(), rotated.private, 'RS256')))
      expect(response.status).toBe(200)
      expect(fetchJwks).toHaveBeenCalledTimes(1)
    })

    it('headers with unknown key ids fetch the keys at most once a minute, however many come', async () => {
      access = accessWith()
      const stranger = await keysOf('someone-else-1')
      const bad = async () => withJwt(await sign(claims(), stranger.private, 'RS256'))
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      clock += 61_000 // the last fetch is a minute old: one may be made
      fetchJwks.mockClear()
      for (const init of [await bad(), await bad(), withJwt('not.a.jwt')]) {
        expect((await request('/', init)).status).toBe(303)
      }
      expect(fetchJwks).toHaveBeenCalledTimes(1)
      // Still within the minute: none; after it, one more, even for requests side by side.
      clock += 59_000
      await request('/', await bad())
      expect(fetchJwks).toHaveBeenCalledTimes(1)
      clock += 1_000
      await Promise.all([request('/', await bad()), request('/', await bad())])
      expect(fetchJwks).toHaveBeenCalledTimes(2)
      // A valid token is still signed in from the cached keys, without a fetch.
      const ok = await request('/', withJwt(await sign(claims(), team.private, 'RS256')))
      expect(ok.status).toBe(200)
      expect(fetchJwks).toHaveBeenCalledTimes(2)
      warn.mockRestore()
    })

    it('without Access configured the header counts for nothing', async () => {
      const response = await request('/', withJwt(await sign(claims(), team.private, 'RS256')))
      expect(response.status).toBe(303)
    })

    it('settings: both or neither, and a team domain', () => {
      expect(accessSettings({})).toBeUndefined()
      expect(
        accessSettings({ CF_ACCESS_TEAM_DOMAIN: 'acme.cloudflareaccess.com', CF_ACCESS_AUD: 'x' }),
      ).toEqual({
        issuer,
        audience: 'x',
      })
      expect(
        accessSettings({
          CF_ACCESS_TEAM_DOMAIN: 'https://ACME.cloudflareaccess.com/',
          CF_ACCESS_AUD: 'x',
        })?.issuer,
      ).toBe(issuer)
      expect(accessSettings({ CF_ACCESS_TEAM_DOMAIN: 'acme', CF_ACCESS_AUD: 'x' })?.issuer).toBe(
        issuer,
      )
      expect(() => accessSettings({ CF_ACCESS_AUD: 'x' })).toThrow(
        /CF_ACCESS_TEAM_DOMAIN is not set/,
      )
      expect(() => accessSettings({ CF_ACCESS_TEAM_DOMAIN: 'acme' })).toThrow(
        /CF_ACCESS_AUD is not set/,
      )
      expect(() =>
        accessSettings({ CF_ACCESS_TEAM_DOMAIN: 'evil.example.com', CF_ACCESS_AUD: 'x' }),
      ).toThrow(/CF_ACCESS_TEAM_DOMAIN must be your team domain/)
    })
  })
})
