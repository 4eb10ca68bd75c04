/**
 * The one place that picks a database, everywhere (CLI, `dq serve`, the
 * Worker): an explicit reference (`--db`) first, then a Hyperdrive binding,
 * then DQ_DATABASE_URL, then SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY.
 * `postgres://...` uses a direct connection (node-postgres), `pglite:memory` or `pglite:DIR`
 * embedded PGlite, the Supabase pair supabase-js over the project's API. The
 * environment is passed in (process.env on Node, the bindings in a Worker).
 *
 * @example
 * ```ts
 * const port = await openDatabase({ reference: flags.db, env: process.env })
 * const port = await openDatabase({ env: workerBindings }) // HYPERDRIVE wins there
 * ```
 */
import { DqError } from '../kernel/errors.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { safeUrl } from '../kernel/redact.ts'
import type { SupabaseOptions } from './supabase.ts'

/** The settings that select a database when no reference is given. */
export type DatabaseEnv = {
  DQ_DATABASE_URL?: string | undefined
  SUPABASE_URL?: string | undefined
  SUPABASE_SERVICE_ROLE_KEY?: string | undefined
  /** A Cloudflare Hyperdrive binding (the Worker only). */
  HYPERDRIVE?: { connectionString: string } | undefined
  DQ_ALLOW_PRIVILEGED_LOGIN?: string | undefined
}

export type DatabaseChoice =
  | { adapter: 'pglite'; location: string }
  | { adapter: 'postgres'; url: string; via: 'reference' | 'hyperdrive' | 'url' }
  | { adapter: 'supabase'; url: string; key: string }

const REFERENCE_HELP = 'use postgres://user@host:5432/db, pglite:memory or pglite:DIR'

/** The setting that names a database, in the order they win; blank values name none. */
type Selection =
  | { by: 'reference'; reference: string }
  | { by: 'hyperdrive'; url: string }
  | { by: 'url'; url: string }
  | { by: 'supabase'; url: string | undefined; key: string | undefined }

type DatabaseSource = { reference?: string | undefined; env?: DatabaseEnv | undefined }

function select(source: DatabaseSource): Selection | undefined {
  const env = source.env ?? {}
  const reference = source.reference?.trim()
  if (reference) return { by: 'reference', reference }
  if (env.HYPERDRIVE?.connectionString) {
    return { by: 'hyperdrive', url: env.HYPERDRIVE.connectionString }
  }
  const url = env.DQ_DATABASE_URL?.trim()
  if (url) return { by: 'url', url }
  const supabaseUrl = env.SUPABASE_URL?.trim() || undefined
  const key = env.SUPABASE_SERVICE_ROLE_KEY?.trim() || undefined
  if (supabaseUrl || key) return { by: 'supabase', url: supabaseUrl, key }
  return undefined
}

/**
 * Whether the reference or the environment names a database at all (for
 * commands where one is optional). The same reading as chooseDatabase: a
 * blank DQ_DATABASE_URL names none, as if unset; a half-set Supabase pair
 * names one, so that chooseDatabase says which half is missing.
 */
export function databaseConfigured(source: DatabaseSource): boolean {
  return select(source) !== undefined
}

/** Which adapter, from a reference and the environment; DqError('config') when none fits. */
export function chooseDatabase(source: DatabaseSource): DatabaseChoice {
  const selection = select(source)
  switch (selection?.by) {
    case undefined:
      throw new DqError(
        'config',
        'no database: pass --db postgres://... (or pglite:memory, pglite:DIR), set DQ_DATABASE_URL, or set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY to use a Supabase project through its API',
      )
    case 'reference':
      return fromReference(selection.reference, 'reference')
    case 'hyperdrive':
      return { adapter: 'postgres', url: selection.url, via: 'hyperdrive' }
    case 'url':
      return fromReference(selection.url, 'url')
    case 'supabase': {
      const { url, key } = selection
      if (!url || !key) {
        const missing = url ? 'SUPABASE_SERVICE_ROLE_KEY' : 'SUPABASE_URL'
        throw new DqError(
          'config',
          `${missing} is not set: a Supabase project needs both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or pass --db / DQ_DATABASE_URL instead)`,
        )
      }
      return { adapter: 'supabase', url, key }
    }
  }
}

function fromReference(reference: string, via: 'reference' | 'url'): DatabaseChoice {
  const name = via === 'reference' ? '--db' : 'DQ_DATABASE_URL'
  if (reference.startsWith('pglite:')) {
    return { adapter: 'pglite', location: reference.slice('pglite:'.length) || 'memory' }
  }
  if (/^postgres(ql)?:\/\//.test(reference)) {
    if (!URL.canParse(reference)) {
      throw new DqError(
        'config',
        `${name} is not a valid URL (check the host, port and the escaping of the password): ${REFERENCE_HELP}`,
      )
    }
    return { adapter: 'postgres', url: reference, via }
  }
  throw new DqError(
    'config',
    `${name} "${safeUrl(reference)}" is not a database reference: ${REFERENCE_HELP}`,
  )
}

export type OpenOptions = SupabaseOptions

/**
 * DQ_ALLOW_PRIVILEGED_LOGIN=1: run checks as a login that can do more than
 * read and cannot become dq_monitor (README "Safety"). Off unless set to 1 or true.
 */
export function allowPrivilegedLogin(env: DatabaseEnv | undefined): boolean {
  const value = env?.DQ_ALLOW_PRIVILEGED_LOGIN?.trim().toLowerCase()
  return value === '1' || value === 'true'
}

/** Opens the chosen adapter. PGlite is loaded only when chosen (the Worker never bundles it). */
export async function openDatabase(
  source: DatabaseSource,
  options: OpenOptions = {},
): Promise<DatabasePort> {
  const choice = chooseDatabase(source)
  switch (choice.adapter) {
    case 'pglite': {
      const { PGliteDatabase } = await import('./pglite.ts')
      return PGliteDatabase.open(choice.location)
    }
    case 'postgres': {
      const { PgDatabase } = await import('./node-postgres.ts')
      return PgDatabase.connect(choice.url, {
        allowPrivilegedLogin: allowPrivilegedLogin(source.env),
      })
    }
    case 'supabase': {
      const { SupabaseDatabase } = await import('./supabase.ts')
      return SupabaseDatabase.connect(choice.url, choice.key, options)
    }
  }
}
