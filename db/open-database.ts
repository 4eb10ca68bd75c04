/**
 * Picks the adapter for a database reference, the same way everywhere:
 * `--db` or DQ_DATABASE_URL; `postgres://...` uses postgres.js, `pglite:memory`
 * or `pglite:DIR` embedded PGlite; with neither, SUPABASE_URL +
 * SUPABASE_SERVICE_ROLE_KEY use supabase-js over the project's API. The
 * environment is passed in (process.env on Node, the bindings in a Worker).
 *
 * @example
 * ```ts
 * const db = await openDatabase(flags.db ?? process.env.DQ_DATABASE_URL, process.env)
 * ```
 */
import { DqError } from '../checks/errors.ts'
import type { Database } from './database.ts'
import type { SupabaseOptions } from './supabase.ts'

/** The environment variables that select supabase-js when no reference is given. */
export type DatabaseEnv = {
  SUPABASE_URL?: string | undefined
  SUPABASE_SERVICE_ROLE_KEY?: string | undefined
}

export async function openDatabase(
  reference: string | undefined,
  env: DatabaseEnv = {},
  options: SupabaseOptions = {},
): Promise<Database> {
  const ref = reference?.trim()
  if (!ref) return openSupabase(env, options)
  if (ref.startsWith('pglite:')) {
    const { PGliteDatabase } = await import('./pglite.ts')
    return PGliteDatabase.open(ref.slice('pglite:'.length) || 'memory')
  }
  if (/^postgres(ql)?:\/\//.test(ref)) {
    const { PostgresJsDatabase } = await import('./postgres-js.ts')
    return PostgresJsDatabase.connect(ref)
  }
  throw new DqError(
    'config',
    `--db "${ref.replace(/:[^:@/]*@/, ':***@')}" is not a database reference: use postgres://user@host:5432/db, pglite:memory or pglite:DIR`,
  )
}

async function openSupabase(env: DatabaseEnv, options: SupabaseOptions): Promise<Database> {
  const url = env.SUPABASE_URL?.trim()
  const key = env.SUPABASE_SERVICE_ROLE_KEY?.trim()
  if (!url && !key) {
    throw new DqError(
      'config',
      'no database: pass --db postgres://... (or pglite:memory, pglite:DIR), set DQ_DATABASE_URL, or set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY to use a Supabase project through its API',
    )
  }
  if (!url || !key) {
    const missing = url ? 'SUPABASE_SERVICE_ROLE_KEY' : 'SUPABASE_URL'
    throw new DqError(
      'config',
      `${missing} is not set: a Supabase project needs both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or pass --db / DQ_DATABASE_URL instead)`,
    )
  }
  const { SupabaseDatabase } = await import('./supabase.ts')
  return SupabaseDatabase.connect(url, key, options)
}
