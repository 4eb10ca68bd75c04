/**
 * Global setup of the fan-out project (runs in Node): a fresh migrated
 * database with fan_out.items, the table the 500 checks of catalog.ts read
 * (one row with n = i for every 50th i: 10 checks fail), and a Slack
 * stand-in of its own.
 */
import type { TestProject } from 'vitest/node'
import { INSPECT_PATH, startSlackReceiver } from '../../support/slack-receiver.ts'
import { engines, openTestDatabase } from '../../support/test-databases.ts'
import './bindings.ts' // the ProvidedContext keys

export default async function setup(project: TestProject) {
  // Throws under CI=true when DQ_TEST_DATABASE_URL is missing: never a silent skip.
  if (!engines().includes('postgres')) {
    console.warn('fan-out workerd tests are skipped: set DQ_TEST_DATABASE_URL')
    project.provide('fanOutDatabaseUrl', '')
    project.provide('fanOutSlack', { slackUrl: '', inspectUrl: '' })
    return
  }
  const database = await openTestDatabase('postgres')
  await database.db.migrate()
  await database.exec(`
    create schema fan_out;
    create table fan_out.items (id integer primary key, n integer not null);
    insert into fan_out.items (id, n)
    select i, case when i % 50 = 0 and i < 500 then i else 1000 + i end
    from generate_series(0, 1999) i;`)
  const slack = await startSlackReceiver()
  project.provide('fanOutDatabaseUrl', database.url as string)
  project.provide('fanOutSlack', {
    slackUrl: slack.url,
    inspectUrl: new URL(INSPECT_PATH, slack.url).toString(),
  })
  return async () => {
    await slack.close()
    await database.close()
  }
}
