/**
 * Global setup of the workerd project (runs in Node, before the Workers
 * runtime starts): a fresh database on the real PostgreSQL server, migrated
 * and seeded with the demo incidents. Its URL is the Worker's DQ_DATABASE_URL.
 */
import { readFile } from 'node:fs/promises'
import type { TestProject } from 'vitest/node'
import { SEED_FILE } from '../../db/migrations.ts'
import { engines, openTestDatabase } from '../support/databases.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres:// URL of the seeded database, or "" when no server is configured. */
    workerdDatabaseUrl: string
    /** The same server's `postgres` database, never migrated: any dq call there fails. */
    workerdUnmigratedUrl: string
  }
}

export default async function setup(project: TestProject) {
  // Throws under CI=true when DQ_TEST_DATABASE_URL is missing: never a silent skip.
  if (!engines().includes('postgres')) {
    console.warn('workerd tests that need a database are skipped: set DQ_TEST_DATABASE_URL')
    project.provide('workerdDatabaseUrl', '')
    project.provide('workerdUnmigratedUrl', '')
    return
  }
  const database = await openTestDatabase('postgres')
  await database.db.migrate()
  await database.exec(await readFile(SEED_FILE, 'utf8'))
  project.provide('workerdDatabaseUrl', database.url as string)
  const unmigrated = new URL(database.url as string)
  unmigrated.pathname = '/postgres'
  project.provide('workerdUnmigratedUrl', unmigrated.toString())
  return async () => {
    await database.close()
  }
}
