/**
 * A connection killed mid-check, inside workerd (node-postgres over
 * Cloudflare's sockets): that check is "connection lost", the next check runs
 * on a fresh connection and the run is recorded. Twenty times in a row.
 */
import { env } from 'cloudflare:workers'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { parseCatalog } from '../../checks/catalog.ts'
import { runChecks } from '../../checks/run-checks.ts'
import { PgDatabase } from '../../db/node-postgres.ts'

const hasDatabase = inject('workerdDatabaseUrl') !== ''
const TIMES = 20

const checks = parseCatalog({
  checks: [
    {
      name: 'workerd_slow',
      kind: 'duplicates',
      table: 'breezeway.task_tags',
      columns: ['case when pg_sleep(3) is null then task_pk end'],
    },
    {
      name: 'workerd_after',
      kind: 'duplicates',
      table: 'breezeway.task_tags',
      columns: ['task_pk', 'tag_pk'],
    },
  ],
}).checks

async function killSlowCheck(admin: pg.Client): Promise<number> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const { rows } = await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where pid <> pg_backend_pid() and datname = current_database()
         and state = 'active' and query like '%run_check%' and query not like '%pg_stat_activity%'`,
    )
    if (rows[0]) {
      await admin.query('select pg_terminate_backend($1)', [rows[0].pid])
      return 1
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return 0
}

describe.runIf(hasDatabase)('a connection killed mid-check, in workerd', () => {
  it(`that check is "connection lost", the next runs, the run is recorded (${TIMES} times)`, async () => {
    const admin = new pg.Client({ connectionString: env.DQ_DATABASE_URL })
    admin.on('error', () => {})
    await admin.connect()
    const port = PgDatabase.connect(env.DQ_DATABASE_URL)
    try {
      for (let i = 0; i < TIMES; i++) {
        const [run, killed] = await Promise.all([
          runChecks(port, checks, { trigger: 'http' }),
          killSlowCheck(admin),
        ])
        expect(killed).toBe(1)
        expect(run.results[0]).toMatchObject({ status: 'error', error_code: 'connection_lost' })
        expect(run.results[1]).toMatchObject({ status: 'pass' })
        expect(run.recorded).toBe(true)
      }
    } finally {
      await port.close()
      await admin.end()
    }
  }, 120_000)
})
