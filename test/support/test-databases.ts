/**
 * The databases every engine test runs against: embedded PGlite always, and a
 * real PostgreSQL server when DQ_TEST_DATABASE_URL is set. Under CI=true a
 * missing server is a failure, never a silent skip.
 *
 * Each test file gets fresh databases: a new PGlite instance, and a new
 * database `dq_test_<random>` on the server, dropped afterwards.
 *
 * This module imports nothing from vitest, so global setups (which run
 * outside any test context) may use it; `useDatabase` is in databases.ts.
 *
 * @example
 * ```ts
 * const database = await openTestDatabase('postgres')
 * await database.db.migrate()
 * await database.close()
 * ```
 */
import postgres from 'postgres'
import { PgDatabase } from '../../db/node-postgres.ts'
import { PGliteDatabase } from '../../db/pglite.ts'
import type { DatabasePort } from '../../kernel/port.ts'

export type Engine = 'pglite' | 'postgres'

export const TEST_DATABASE_URL = process.env.DQ_TEST_DATABASE_URL

export function engines(): Engine[] {
  if (TEST_DATABASE_URL) return ['pglite', 'postgres']
  if (process.env.CI === 'true') {
    throw new Error(
      'DQ_TEST_DATABASE_URL is not set: under CI=true the real-PostgreSQL tests must run (set it to postgres://postgres@127.0.0.1:5432/test)',
    )
  }
  console.warn('DQ_TEST_DATABASE_URL is not set: running the engine tests on PGlite only')
  return ['pglite']
}

/** A handle that can run raw SQL on the same database as the adapter under test. */
export type TestDatabase = {
  db: DatabasePort
  /** Runs SQL text (several statements allowed) as the owner, outside any check. */
  exec(sql: string): Promise<void>
  /** One query's rows. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>
  /** A postgres:// URL to this database, for CLI tests (postgres engine only). */
  url?: string
}

async function createServerDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = postgres(TEST_DATABASE_URL as string, { max: 1, onnotice: () => {} })
  const name = `dq_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await admin.unsafe(`create database ${name}`)
  const url = new URL(TEST_DATABASE_URL as string)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

/**
 * What the README asks a user to grant, given once for every table a test
 * creates: checks run as dq_monitor, which must be able to read them. Default
 * privileges are per database, so nothing leaks to other test databases.
 */
export const MONITOR_READS_EVERYTHING = `
  do $$ begin
    if to_regrole('dq_monitor') is null then create role dq_monitor nologin; end if;
  end $$;
  alter default privileges grant usage on schemas to dq_monitor;
  alter default privileges grant select on tables to dq_monitor;
`

export async function openTestDatabase(
  engine: Engine,
): Promise<TestDatabase & { close(): Promise<void> }> {
  if (engine === 'pglite') {
    const db = await PGliteDatabase.open('memory')
    await db.exec(MONITOR_READS_EVERYTHING)
    return {
      db,
      exec: (sql) => db.exec(sql),
      query: async <T>(sql: string) => (await db.pg.query<T>(sql)).rows,
      close: () => db.close(),
    }
  }
  const server = await createServerDatabase()
  const db = PgDatabase.connect(server.url)
  // One connection of its own, so SQL text may hold BEGIN/COMMIT (the seed does).
  const owner = postgres(server.url, { max: 1, onnotice: () => {} })
  await owner.unsafe(MONITOR_READS_EVERYTHING)
  return {
    db,
    url: server.url,
    exec: async (sql) => {
      await owner.unsafe(sql)
    },
    query: async <T>(sql: string) => (await owner.unsafe(sql)) as unknown as T[],
    close: async () => {
      await db.close()
      await owner.end()
      await server.drop()
    },
  }
}
