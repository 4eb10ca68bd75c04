/**
 * A Supabase project over its API (PostgREST) with supabase-js: what the
 * Worker uses when it has SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY and no
 * direct connection. Every call is `.schema('dq').rpc(fn, args)`, a POST to
 * /rest/v1/rpc/<fn> with `Content-Profile: dq`: no table endpoints, and
 * dq.run_check is STABLE, so PostgREST runs each check in a READ ONLY
 * transaction.
 *
 * What the API cannot do, and this adapter therefore does not:
 * - apply migrations (`migrate()` says to run `supabase db push` or `dq migrate`);
 * - set a per-check statement_timeout: the database side is bounded by the
 *   statement_timeout the migration puts on dq.run_check (55 s, see
 *   supabase/schemas/25_entry_points.sql). A check's
 *   `timeoutSeconds` only bounds how long this adapter waits for the answer;
 *   an abandoned statement runs on until that database-side timeout.
 *
 * Every other call (record_run, enqueue_alerts, pending_alerts, mark_alert,
 * history) is bounded too, by `callTimeoutSeconds` (30 s): a hung API never
 * holds a run, or a Worker's invocation, for good.
 *
 * @example
 * ```ts
 * const db = SupabaseDatabase.connect(env.SUPABASE_URL, env.SUPABASE_SERVICE_ROLE_KEY)
 * await db.call('run_check', { spec }, { readOnly: { timeoutSeconds: 60 } })
 * ```
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { decode } from 'hono/jwt'
import { DqError } from '../kernel/errors.ts'
import { CALL_TIMEOUT_SECONDS, type CallOptions, type DatabasePort } from '../kernel/port.ts'
import { databaseError, sqlState } from './sql-error.ts'

export type SupabaseOptions = {
  /** The fetch every request goes through (tests, a Worker's own fetch); default globalThis.fetch. */
  fetch?: typeof fetch
  /**
   * How long past a check's timeoutSeconds to wait before giving up on the
   * answer, so that a database-side timeout, when it comes first, is the
   * error reported. Default 2 s.
   */
  deadlineGraceSeconds?: number
  /**
   * How long to wait for any call that is not a check (history, alert state,
   * the outbox) before giving up with a timeout. Default 30 s.
   */
  callTimeoutSeconds?: number
}

/** The error body PostgREST answers with, as supabase-js hands it over (status 0: no answer). */
export type PostgrestFailure = {
  code?: string | null
  message?: string | null
  details?: string | null
  hint?: string | null
}

type FailureContext = {
  fn: string
  status: number
  host: string
  /** The role the key claims (a legacy JWT key), or service_role for an sb_secret_ key. */
  keyRole: string | undefined
  /** Set when this adapter gave up waiting: a check's deadline, or a call's. */
  deadline?: { seconds: number; of: 'check' | 'call' }
}

const DEFAULT_GRACE_SECONDS = 2

export class SupabaseDatabase implements DatabasePort {
  /** The project's host (never the key). */
  readonly label: string
  readonly client: SupabaseClient
  private readonly keyRole: string | undefined
  private readonly graceSeconds: number
  private readonly callTimeoutSeconds: number

  private constructor(
    client: SupabaseClient,
    host: string,
    keyRole: string | undefined,
    timeouts: { graceSeconds: number; callTimeoutSeconds: number },
  ) {
    this.client = client
    this.label = host
    this.keyRole = keyRole
    this.graceSeconds = timeouts.graceSeconds
    this.callTimeoutSeconds = timeouts.callTimeoutSeconds
  }

  /** Checks the URL and key (no request is made) and builds the client. */
  static connect(url: string, serviceRoleKey: string, options: SupabaseOptions = {}) {
    const project = projectUrl(url)
    const keyRole = serviceKeyRole(serviceRoleKey)
    const client = createClient(project.toString(), serviceRoleKey.trim(), {
      // A server-side client: no user session to keep, refresh or find in a URL.
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      ...(options.fetch ? { global: { fetch: options.fetch } } : {}),
    })
    return new SupabaseDatabase(client, project.host, keyRole, {
      graceSeconds: options.deadlineGraceSeconds ?? DEFAULT_GRACE_SECONDS,
      callTimeoutSeconds: options.callTimeoutSeconds ?? CALL_TIMEOUT_SECONDS,
    })
  }

  async call(
    fn: string,
    args: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<unknown> {
    // A check waits its own timeoutSeconds (plus grace); every other call a fixed bound.
    const deadline = options.readOnly
      ? { seconds: options.readOnly.timeoutSeconds + this.graceSeconds, of: 'check' as const }
      : { seconds: options.timeoutSeconds ?? this.callTimeoutSeconds, of: 'call' as const }
    const signal = AbortSignal.timeout(Math.ceil(deadline.seconds * 1000))
    // POST always: supabase-js turns object arguments of a GET into "[object Object]".
    const { data, error, status } = await this.client.schema('dq').rpc(fn, args).abortSignal(signal)
    if (!error) return data
    throw postgrestError(error, {
      fn,
      status,
      host: this.label,
      keyRole: this.keyRole,
      ...(signal.aborted ? { deadline } : {}),
    })
  }

  async migrate(): Promise<void> {
    throw new DqError(
      'config',
      `the Supabase API (${this.label}) cannot apply migrations: run "supabase db push" from a checkout linked to the project, or "dq migrate --db postgres://..." with the project's direct connection string`,
    )
  }

  async close(): Promise<void> {
    // Stateless HTTP: nothing to release.
  }
}

function projectUrl(url: string): URL {
  const trimmed = url.trim()
  let parsed: URL | undefined
  try {
    parsed = new URL(trimmed)
  } catch {
    parsed = undefined
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol)) {
    throw new DqError(
      'config',
      `SUPABASE_URL "${trimmed}" is not a URL: use the project URL, e.g. https://abcdefghijklmnop.supabase.co (Dashboard: Project Settings → Data API)`,
    )
  }
  return parsed
}

/**
 * The role a key stands for, read without verifying it (the API verifies it):
 * a legacy JWT key carries a `role` claim, an sb_secret_ key is service_role.
 * Keys that can never run checks fail here, before any request.
 */
function serviceKeyRole(key: string): string | undefined {
  const trimmed = key.trim()
  if (!trimmed) {
    throw new DqError(
      'config',
      'SUPABASE_SERVICE_ROLE_KEY is empty: set it to the project service_role key (Dashboard: Project Settings → API Keys)',
    )
  }
  if (trimmed.startsWith('sb_publishable_')) {
    throw new DqError(
      'config',
      'SUPABASE_SERVICE_ROLE_KEY holds a publishable key (sb_publishable_...), which cannot call the dq functions: use a secret key (sb_secret_...) or the legacy service_role key',
    )
  }
  if (trimmed.startsWith('sb_secret_')) return 'service_role'
  let role: unknown
  try {
    role = decode(trimmed).payload.role
  } catch {
    return undefined // not a JWT: the API will say what it thinks of it
  }
  if (role === 'anon' || role === 'authenticated') {
    throw new DqError(
      'config',
      `SUPABASE_SERVICE_ROLE_KEY holds a key for the "${role}" role, which the dq migration denies everything: use the project service_role key (Dashboard: Project Settings → API Keys)`,
    )
  }
  return typeof role === 'string' ? role : undefined
}

/** A PostgREST (or gateway, or network) failure as a DqError whose message says what to do. */
function postgrestError(failure: PostgrestFailure, context: FailureContext): DqError {
  const code = failure.code ?? ''
  const message = (failure.message ?? '').slice(0, 500) || `HTTP ${context.status}`
  const details = { code: code || undefined, status: context.status }
  const { host, fn } = context

  if (context.deadline?.of === 'check') {
    return new DqError(
      'timeout',
      `no answer from the Supabase API (${host}) within ${context.deadline.seconds} s (the check's timeoutSeconds plus a grace period): gave up waiting. Through the API the database statement runs on until dq.run_check's own statement_timeout (55 s unless changed): make the check cheaper (an index, a narrower "where") or run it over a direct connection (DQ_DATABASE_URL)`,
      details,
    )
  }
  if (context.deadline?.of === 'call') {
    return new DqError(
      'timeout',
      `no answer from the Supabase API (${host}) to dq.${fn} within ${context.deadline.seconds} s: gave up waiting (the call may still complete in the database). The project may be paused, restarting or overloaded; the next run tries again`,
      details,
    )
  }
  if (context.status === 0) {
    return new DqError(
      'database',
      `cannot reach the Supabase API at ${host} (${message}): check SUPABASE_URL, the network, and that the project is not paused`,
      details,
    )
  }
  if (code === 'PGRST106') {
    return new DqError(
      'config',
      `the Supabase API at ${host} does not expose schema dq (${failure.hint ?? message}): add "dq" to the exposed schemas (Dashboard: Project Settings → Data API → Exposed schemas; locally: schemas under [api] in supabase/config.toml)`,
      details,
    )
  }
  if (code === 'PGRST203') {
    return new DqError(
      'not_migrated',
      `the Supabase API at ${host} finds more than one function dq.${fn} for these arguments (${message}): an old overload was left behind by a migration. Drop the old overload ("drop function dq.${fn}(<its old argument types>)", listed by "\\df dq.${fn}"), then reload the API schema cache: notify pgrst, 'reload schema'`,
      details,
    )
  }
  if (code === 'PGRST202' || (code === '42883' && /function dq\./.test(message))) {
    return new DqError(
      'not_migrated',
      `the Supabase API at ${host} has no function dq.${fn} with these arguments (${message}): apply the dq migrations ("supabase db push", or "dq migrate --db postgres://..."); if they are applied, reload the API schema cache: notify pgrst, 'reload schema'`,
      details,
    )
  }
  if (/^PGRST3/.test(code) || (context.status === 401 && !sqlState(failure))) {
    return new DqError(
      'config',
      `the Supabase API at ${host} rejected SUPABASE_SERVICE_ROLE_KEY (${message}): set it to this project's service_role key (Dashboard: Project Settings → API Keys)`,
      details,
    )
  }
  if (code === '42501') return permissionError(message, context)
  if (code === '57014') {
    return new DqError(
      'timeout',
      `${message} (through the Supabase API a check is bounded by dq.run_check's statement_timeout, 55 s unless changed, not by its timeoutSeconds: make the check cheaper with an index or a narrower "where", raise it with "alter function dq.run_check(jsonb) set statement_timeout = '...'" up to the API's 60 s request limit, or run the check over a direct connection, DQ_DATABASE_URL)`,
      { ...details, sqlstate: code },
    )
  }
  if (/^PGRST0/.test(code) || context.status === 503) {
    return new DqError(
      'database',
      `the Supabase API at ${host} could not reach its database (${code || context.status}: ${message}): the project may be paused, restarting or overloaded; the next run tries again`,
      details,
    )
  }
  if (context.status === 504 && !sqlState(failure)) {
    return new DqError(
      'timeout',
      `the Supabase API at ${host} gave up on the request (HTTP 504: ${message}): its request limit is 60 s; make the check cheaper or run it over a direct connection (DQ_DATABASE_URL)`,
      details,
    )
  }
  if (sqlState(failure)) {
    // A PostgreSQL error passed through: the same mapping and wording as the direct adapters.
    return databaseError(Object.assign(new Error(message), { code }))
  }
  return new DqError(
    'database',
    `the Supabase API at ${host} answered HTTP ${context.status}${code ? ` ${code}` : ''}: ${message}`,
    details,
  )
}

function permissionError(message: string, context: FailureContext): DqError {
  const details = { sqlstate: '42501', status: context.status }
  if (context.keyRole !== undefined && context.keyRole !== 'service_role') {
    return new DqError(
      'config',
      `${message}: SUPABASE_SERVICE_ROLE_KEY is a key for the "${context.keyRole}" role; the dq functions are granted to service_role only: use the project service_role key`,
      details,
    )
  }
  // With the service_role key: either the dq grants are missing (the migration
  // ran before service_role existed), or a checked table is not readable by it.
  return new DqError(
    'config',
    `${message}: the service_role must be able to run dq.${context.fn} and read the checked tables. If the message names a dq object, apply the dq migrations again ("supabase db push" or "dq migrate"); if it names one of your schemas or tables, grant it: grant usage on schema <schema> to service_role; grant select on all tables in schema <schema> to service_role`,
    details,
  )
}
