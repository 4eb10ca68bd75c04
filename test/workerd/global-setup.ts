/**
 * Global setup of the workerd project (runs in Node, before the Workers
 * runtime starts): a fresh database on the real PostgreSQL server, migrated
 * and seeded with the demo incidents. Its URL is the Worker's DQ_DATABASE_URL.
 */
import { readFile } from 'node:fs/promises'
import type { TestProject } from 'vitest/node'
import { SEED_FILE } from '../../db/migrations.ts'
import { ensureSupabaseRoles, startPostgrest } from '../support/postgrest.ts'
import { INSPECT_PATH, startSlackReceiver } from '../support/slack-receiver.ts'
import { engines, openTestDatabase } from '../support/test-databases.ts'
import './bindings.ts' // the ProvidedContext keys

export default async function setup(project: TestProject) {
  // Throws under CI=true when DQ_TEST_DATABASE_URL is missing: never a silent skip.
  if (!engines().includes('postgres')) {
    console.warn('workerd tests that need a database are skipped: set DQ_TEST_DATABASE_URL')
    project.provide('workerdDatabaseUrl', '')
    project.provide('workerdUnmigratedUrl', '')
    project.provide('workerdSupabase', { url: '', serviceKey: '' })
    project.provide('workerdAlerts', { databaseUrl: '', slackUrl: '', inspectUrl: '' })
    return
  }
  await ensureSupabaseRoles() // before migrating: the grants name service_role
  const database = await openTestDatabase('postgres')
  await database.db.migrate()
  await database.exec(await readFile(SEED_FILE, 'utf8'))
  // The same database behind a PostgREST-compatible API, for the supabase-js path.
  await database.exec(`
    grant usage on schema core, extracted, breezeway, jobs to service_role;
    grant select on all tables in schema core, extracted, breezeway, jobs to service_role;`)
  const api = await startPostgrest({ databaseUrl: database.url as string })
  project.provide('workerdSupabase', { url: api.url, serviceKey: api.serviceKey })
  // A second seeded database and a Slack stand-in for the alerting end to end:
  // its alert state starts empty whatever the other files run.
  const alerting = await openTestDatabase('postgres')
  await alerting.db.migrate()
  await alerting.exec(await readFile(SEED_FILE, 'utf8'))
  const slack = await startSlackReceiver()
  project.provide('workerdAlerts', {
    databaseUrl: alerting.url as string,
    slackUrl: slack.url,
    inspectUrl: new URL(INSPECT_PATH, slack.url).toString(),
  })
  project.provide('workerdDatabaseUrl', database.url as string)
  const unmigrated = new URL(database.url as string)
  unmigrated.pathname = '/postgres'
  project.provide('workerdUnmigratedUrl', unmigrated.toString())
  return async () => {
    await api.close()
    await slack.close()
    await alerting.close()
    await database.close()
  }
}
