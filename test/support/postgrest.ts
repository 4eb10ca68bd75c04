/**
 * A small PostgREST-compatible RPC endpoint for tests, over a real PostgreSQL
 * database: there is no PostgREST (nor Supabase) on the test machines, and the
 * supabase-js adapter must still be tested end to end, through HTTP, with the
 * database deciding what a role may do.
 *
 * What it reproduces, from PostgREST 12/13 and the Supabase API gateway
 * (docs.postgrest.org: references/errors, references/transactions,
 * references/auth; PostgREST src/PostgREST/Error.hs, Query.hs):
 * - the gateway: an `apikey` header is required and must be one of the
 *   project's keys (401 "No API key found in request" / "Invalid API key");
 *   an opaque secret key (sb_secret_...) sent as the bearer token stands for
 *   its role, as the gateway swaps it for a JWT;
 * - `POST /rest/v1/rpc/:fn` with named arguments in a JSON object, passed the
 *   way PostgREST passes them: `fn(name := _.name, ...)` from
 *   `json_to_record($1) as _(name type, ...)`, so a JSON array reaches a
 *   text[] parameter and omitted parameters take their defaults;
 * - `Content-Profile` picks the schema among the exposed ones (default the
 *   first); any other: 406 PGRST106 "Invalid schema: x", hint listing them;
 * - `Authorization: Bearer <jwt>`: HS256, verified with the JWT secret; the
 *   `role` claim is the role (none: the anonymous role); a bad token is 401
 *   PGRST301, an expired one 401 PGRST303, no header the anonymous role;
 * - the function looked up by name and argument names (required ones present,
 *   no unknown ones): none is 404 PGRST202 with PostgREST's message, several
 *   300 PGRST203;
 * - one transaction per request, READ COMMITTED, READ ONLY for STABLE and
 *   IMMUTABLE functions, READ WRITE for VOLATILE ones; then, as PostgREST's
 *   setPgLocals, transaction-local search_path (schema, public, extensions),
 *   the role's own settings (ALTER ROLE ... SET), `role`, request.jwt.claims,
 *   request.method, request.path, request.headers, request.cookies, and the
 *   function's "hoisted" settings from its SET clause (statement_timeout,
 *   plan_filter.statement_cost_limit, default_transaction_isolation);
 * - the connection's own statement_timeout, as Supabase's authenticator role
 *   has (8 s by default here), which a function's hoisted one overrides;
 * - errors as PostgREST's JSON `{ code, message, details, hint }` with its
 *   SQLSTATE to HTTP status table (mapSQLtoHTTP), 42501 as 403 with a JWT role
 *   and 401 (with WWW-Authenticate: Bearer) without; PT<nnn> as status nnn;
 *   connection failures as 503 PGRST000.
 *
 * What it does not: GET/HEAD calls, table and view endpoints, a schema cache
 * (functions are looked up on every request, so nothing needs
 * `notify pgrst, 'reload schema'`), set-returning and void functions, a
 * single unnamed json parameter, `Prefer` headers, RAISE 'PGRST', JWKS and
 * asymmetric JWTs, `aud`/`iss` checks, db-pre-request, pool limits and
 * timeouts (PGRST003), and the gateway's 60 s request limit.
 *
 * @example
 * ```ts
 * await ensureSupabaseRoles()
 * const api = await startPostgrest({ databaseUrl: database().url })
 * const db = SupabaseDatabase.connect(api.url, api.serviceKey)
 * await api.close()
 * ```
 */
import type { Server } from 'node:http'
import { type ServerType, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { sign, verify } from 'hono/jwt'
import postgres from 'postgres'
import { TEST_DATABASE_URL } from './test-databases.ts'

/** The JWT secret the test keys are signed with. */
const TEST_JWT_SECRET = 'dq-monitor-test-jwt-secret-of-32-characters-or-more'

/** PostgREST's default db-hoisted-tx-settings. */
const HOISTED_SETTINGS = [
  'statement_timeout',
  'plan_filter.statement_cost_limit',
  'default_transaction_isolation',
]

export type PostgrestOptions = {
  /** The database to serve, connected to as a role that may switch to every API role. */
  databaseUrl: string
  /** db-schemas: the exposed schemas, the first one the default. */
  schemas?: string[]
  /** db-anon-role: the role of requests without a JWT. */
  anonRole?: string
  jwtSecret?: string
  /** The connection's statement_timeout (Supabase's authenticator role has 8 s). */
  statementTimeout?: string
  /** Opaque API keys (sb_secret_...) and the role each stands for. */
  secretKeys?: Record<string, string>
}

export type PostgrestCall = { fn: string; status: number; code?: string }

export type PostgrestServer = {
  /** The project URL: what SUPABASE_URL would be. */
  url: string
  /** The anon key (a JWT with role "anon"). */
  anonKey: string
  /** The service_role key (a JWT with role "service_role"). */
  serviceKey: string
  /** A JWT with these claims, signed with the endpoint's secret. */
  sign(claims: Record<string, unknown>): Promise<string>
  /** Every RPC request answered, in order: proves a call went through HTTP. */
  calls: PostgrestCall[]
  close(): Promise<void>
}

type PostgrestErrorBody = {
  code: string
  message: string
  details: string | null
  hint: string | null
}

class PostgrestFailure extends Error {
  readonly status: number
  readonly body: PostgrestErrorBody
  readonly headers: Record<string, string>

  constructor(status: number, body: PostgrestErrorBody, headers: Record<string, string> = {}) {
    super(body.message)
    this.status = status
    this.body = body
    this.headers = headers
  }
}

type Identity = { role: string; claims: Record<string, unknown>; authed: boolean }

type Routine = {
  volatility: 'i' | 's' | 'v'
  config: string[]
  defaults: number
  params: { name: string | null; type: string }[]
}

/** Creates the Supabase API roles (cluster-wide) when missing; safe to run concurrently. */
export async function ensureSupabaseRoles(url = TEST_DATABASE_URL): Promise<void> {
  if (!url) throw new Error('ensureSupabaseRoles needs DQ_TEST_DATABASE_URL')
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    for (const role of [
      'anon nologin noinherit',
      'authenticated nologin noinherit',
      'service_role nologin noinherit bypassrls',
    ]) {
      // Two test files may race: the loser sees duplicate_object or unique_violation.
      await sql.unsafe(`do $$ begin create role ${role};
        exception when duplicate_object or unique_violation then null; end $$`)
    }
  } finally {
    await sql.end()
  }
}

export async function startPostgrest(options: PostgrestOptions): Promise<PostgrestServer> {
  const schemas = options.schemas ?? ['public', 'graphql_public', 'dq']
  const anonRole = options.anonRole ?? 'anon'
  const secret = options.jwtSecret ?? TEST_JWT_SECRET
  const secretKeys = options.secretKeys ?? {}
  const anonKey = await sign({ role: 'anon', iss: 'supabase-test' }, secret)
  const serviceKey = await sign({ role: 'service_role', iss: 'supabase-test' }, secret)
  const apiKeys = new Set([anonKey, serviceKey, ...Object.keys(secretKeys)])
  const calls: PostgrestCall[] = []
  const sql = postgres(options.databaseUrl, {
    max: 4,
    onnotice: () => {},
    connection: {
      application_name: 'dq-test-postgrest',
      statement_timeout: options.statementTimeout ?? '8s',
    } as Record<string, string>,
  })

  const app = new Hono()

  // The gateway in front of PostgREST: only the project's keys get through.
  app.use(async (c, next) => {
    const apikey = c.req.header('apikey')
    if (!apikey) {
      return c.json(
        {
          message: 'No API key found in request',
          hint: 'No `apikey` request header or url param was found.',
        },
        401,
      )
    }
    if (!apiKeys.has(apikey)) {
      return c.json(
        {
          message: 'Invalid API key',
          hint: 'Double check your Supabase `anon` or `service_role` API key.',
        },
        401,
      )
    }
    await next()
  })

  app.post('/rest/v1/rpc/:fn', async (c) => {
    const fn = c.req.param('fn')
    try {
      const identity = await authenticate(c.req.header('authorization'))
      const schema = c.req.header('content-profile') ?? (schemas[0] as string)
      if (!schemas.includes(schema)) {
        throw new PostgrestFailure(406, {
          code: 'PGRST106',
          message: `Invalid schema: ${schema}`,
          details: null,
          hint: `Only the following schemas are exposed: ${schemas.join(', ')}`,
        })
      }
      const args = parseArgs(await c.req.text())
      const body = await invoke(schema, fn, args, identity, c)
      calls.push({ fn: `${schema}.${fn}`, status: 200 })
      return c.body(body, 200, { 'Content-Type': 'application/json; charset=utf-8' })
    } catch (error) {
      const failure = error instanceof PostgrestFailure ? error : unexpected(error)
      calls.push({ fn, status: failure.status, code: failure.body.code })
      return c.json(failure.body, failure.status as never, failure.headers)
    }
  })

  app.all('*', (c) =>
    c.json(
      {
        code: 'PGRST125',
        message: 'Invalid path specified in request URL',
        details: 'only POST /rest/v1/rpc/:fn is reproduced by the test endpoint',
        hint: null,
      },
      404,
    ),
  )

  async function authenticate(header: string | undefined): Promise<Identity> {
    const bearer = header ? /^Bearer\s+(.*)$/i.exec(header) : null
    // PostgREST ignores an Authorization header that is not a bearer token.
    if (!bearer) return { role: anonRole, claims: {}, authed: false }
    const token = (bearer[1] ?? '').trim()
    const invalid = (code: string, message: string) =>
      new PostgrestFailure(
        401,
        { code, message, details: null, hint: null },
        { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${message}"` },
      )
    if (token === '') throw invalid('PGRST301', 'Empty JWT is sent in Authorization header')
    const opaqueRole = secretKeys[token]
    if (opaqueRole) return { role: opaqueRole, claims: { role: opaqueRole }, authed: true }
    const parts = token.split('.').length
    if (parts !== 3) throw invalid('PGRST301', `Expected 3 parts in JWT; got ${parts}`)
    let claims: Record<string, unknown>
    try {
      claims = await verify(token, secret, 'HS256')
    } catch (error) {
      if ((error as Error).name === 'JwtTokenExpired') throw invalid('PGRST303', 'JWT expired')
      throw invalid('PGRST301', 'JWT cryptographic operation failed')
    }
    return typeof claims.role === 'string'
      ? { role: claims.role, claims, authed: true }
      : { role: anonRole, claims, authed: false }
  }

  async function invoke(
    schema: string,
    fn: string,
    args: Record<string, unknown>,
    identity: Identity,
    c: Context,
  ): Promise<string> {
    const routine = await findRoutine(schema, fn, Object.keys(args))
    const given = routine.params.filter((p) => p.name !== null && p.name in args)
    const call = `${ident(schema)}.${ident(fn)}(${given
      .map((p) => `${ident(p.name as string)} := _.${ident(p.name as string)}`)
      .join(', ')})`
    const text = given.length
      ? `select to_json(${call})::text as body from json_to_record($1::text::json) as _(${given
          .map((p) => `${ident(p.name as string)} ${p.type}`)
          .join(', ')})`
      : `select to_json(${call})::text as body`
    const access = routine.volatility === 'v' ? 'read write' : 'read only'
    const headers = Object.fromEntries(
      Object.entries(c.req.header()).map(([name, value]) => [name.toLowerCase(), value]),
    )
    const locals: [string, string][] = [
      ['search_path', [schema, 'public', 'extensions'].map(ident).join(', ')],
      ...(await roleSettings(identity.role)),
      ['role', identity.role],
      ['request.jwt.claims', JSON.stringify(identity.claims)],
      ['request.method', 'POST'],
      ['request.path', `/rpc/${fn}`],
      ['request.headers', JSON.stringify(headers)],
      ['request.cookies', '{}'],
      ...settingsOf(routine.config).filter(([name]) => HOISTED_SETTINGS.includes(name)),
    ]
    try {
      return await sql.begin(`isolation level read committed ${access}`, async (tx) => {
        await tx.unsafe(
          `select ${locals.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
          locals.flat(),
        )
        const rows = await tx.unsafe<{ body: string | null }[]>(text, [JSON.stringify(args)])
        return rows[0]?.body ?? 'null'
      })
    } catch (error) {
      throw fromPostgres(error, identity.authed)
    }
  }

  /** The "schema cache" lookup, live: a function of that name taking exactly these named arguments. */
  async function findRoutine(schema: string, fn: string, keys: string[]): Promise<Routine> {
    const routines = await sql<Routine[]>`
      select p.provolatile::text as volatility,
             coalesce(p.proconfig, '{}') as config,
             p.pronargdefaults::int as defaults,
             coalesce((
               select json_agg(json_build_object('name', a.name, 'type', format_type(a.type, null))
                               order by a.ord)
               from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                           coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs::int])),
                           coalesce(p.proargnames, array_fill(null::text, array[p.pronargs::int])))
                    with ordinality as a(type, mode, name, ord)
               where a.mode in ('i', 'b', 'v')
             ), '[]') as params
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = ${schema} and p.proname = ${fn} and p.prokind = 'f'`
    const matches = routines.filter((routine) => {
      const names = routine.params.map((p) => p.name)
      const required = names.slice(0, names.length - routine.defaults)
      return keys.every((k) => names.includes(k)) && required.every((n) => n && keys.includes(n))
    })
    const [match] = matches
    if (matches.length > 1) {
      throw new PostgrestFailure(300, {
        code: 'PGRST203',
        message: `Could not choose the best candidate function between: ${schema}.${fn}`,
        details: null,
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      })
    }
    if (!match) {
      const sorted = [...keys].sort()
      const withParams = sorted.length
        ? ` with parameter${sorted.length > 1 ? 's' : ''} ${sorted.join(', ')}`
        : ' without parameters'
      throw new PostgrestFailure(404, {
        code: 'PGRST202',
        message: `Could not find the function ${schema}.${fn}${sorted.length ? `(${sorted.join(', ')})` : ' without parameters'} in the schema cache`,
        details: `Searched for the function ${schema}.${fn}${withParams} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        hint: null,
      })
    }
    return match
  }

  /** PostgREST applies the impersonated role's ALTER ROLE ... SET settings too. */
  async function roleSettings(role: string): Promise<[string, string][]> {
    const rows = await sql<{ setting: string }[]>`
      select unnest(s.setconfig) as setting
      from pg_db_role_setting s
      join pg_roles r on r.oid = s.setrole
      where r.rolname = ${role}
        and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
      order by s.setdatabase`
    return settingsOf(rows.map((r) => r.setting))
  }

  const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({ server, port: info.port }),
    )
  })

  return {
    url: `http://127.0.0.1:${port}`,
    anonKey,
    serviceKey,
    sign: (claims) => sign(claims, secret),
    calls,
    close: async () => {
      const http = server as Server
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await sql.end({ timeout: 1 })
    },
  }
}

function parseArgs(text: string): Record<string, unknown> {
  let args: unknown
  try {
    args = text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    throw new PostgrestFailure(400, {
      code: 'PGRST102',
      message: 'Empty or invalid json',
      details: null,
      hint: null,
    })
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new PostgrestFailure(400, {
      code: 'PGRST102',
      message: 'Empty or invalid json',
      details: 'the test endpoint reproduces named arguments in a JSON object only',
      hint: null,
    })
  }
  return args as Record<string, unknown>
}

/** "name=value" entries (proconfig, setconfig) as pairs. */
function settingsOf(entries: readonly string[]): [string, string][] {
  return entries.map((entry) => {
    const at = entry.indexOf('=')
    return [entry.slice(0, at), entry.slice(at + 1)]
  })
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

function fromPostgres(error: unknown, authed: boolean): PostgrestFailure {
  const e = error as { code?: unknown; message?: string; detail?: string; hint?: string }
  const code = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined
  if (!code) {
    return new PostgrestFailure(503, {
      code: 'PGRST000',
      message: 'Database connection error. Retrying the connection.',
      details: e.message ?? String(error),
      hint: null,
    })
  }
  const message = e.message ?? ''
  const status = httpStatus(code, message, authed)
  return new PostgrestFailure(
    status,
    { code, message, details: e.detail ?? null, hint: e.hint ?? null },
    status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
  )
}

function unexpected(error: unknown): PostgrestFailure {
  return new PostgrestFailure(500, {
    code: 'PGRSTX00',
    message: error instanceof Error ? error.message : String(error),
    details: null,
    hint: null,
  })
}

/** PostgREST's mapSQLtoHTTP (src/PostgREST/Error.hs), in its order. */
function httpStatus(code: string, message: string, authed: boolean): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    '53400': 500,
    '57P01': 503,
    P0001: 400,
    '42883': 404,
    '42P01': 404,
    '42P17': 500,
  }
  if (code === '21000') return /requires a WHERE clause$/.test(message) ? 400 : 500
  if (code === '22023') return /^role.*does not exist$/.test(message) ? 401 : 400
  if (code === '42501') return authed ? 403 : 401
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2))
  const known = exact[code]
  if (known) return known
  const byClass: [string, number][] = [
    ['08', 503],
    ['09', 500],
    ['0L', 403],
    ['0P', 403],
    ['25', 500],
    ['28', 403],
    ['2D', 500],
    ['38', 500],
    ['39', 500],
    ['3B', 500],
    ['40', 500],
    ['53', 503],
    ['54', 500],
    ['55', 500],
    ['57', 500],
    ['58', 500],
    ['F0', 500],
    ['HV', 500],
    ['P0', 500],
    ['XX', 500],
  ]
  return byClass.find(([prefix]) => code.startsWith(prefix))?.[1] ?? 400
}
