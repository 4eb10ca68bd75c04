/**
 * The SQL migrations that install the `dq` schema, read from
 * `supabase/migrations` in file-name order (or the schema files they are
 * generated from, `supabase/schemas`, with `SCHEMAS_DIR`). Every file is
 * idempotent, so applying all of them again is always safe.
 *
 * @example
 * ```ts
 * for (const m of await loadMigrations()) await sql.unsafe(m.sql)
 * ```
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MIGRATIONS_DIR = new URL('../supabase/migrations/', import.meta.url)
/** The one current definition of every dq object; the migrations are generated from it. */
export const SCHEMAS_DIR = new URL('../supabase/schemas/', import.meta.url)
export const SEED_FILE = new URL('../supabase/seed.sql', import.meta.url)

export type Migration = { name: string; sql: string }

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  // Paths, not URLs: this module is also type-checked under the Workers runtime's URL type.
  const folder = fileURLToPath(dir.href)
  const names = (await readdir(folder)).filter((name) => name.endsWith('.sql')).sort()
  return Promise.all(
    names.map(async (name) => ({ name, sql: await readFile(join(folder, name), 'utf8') })),
  )
}

/** Serialises concurrent `dq migrate` calls (pg_advisory_xact_lock key). */
export const MIGRATION_LOCK_KEY = 0x64716d69 // "dqmi"
