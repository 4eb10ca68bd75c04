// The guarantees a monitor on a production database must keep: it never
// writes, never hangs a run, and one broken check never stops the others.
import { beforeAll, describe, expect, it } from 'vitest'
import { KIND_NAMES, parseCatalog } from '../checks/catalog.ts'
import { exitCodeFor } from '../checks/result.ts'
import { runChecks } from '../checks/run-checks.ts'
import { measureCheck } from '../checks/store.ts'
import { rejection } from './support/checks.ts'
import { engines, useDatabase } from './support/databases.ts'

const catalog = (checks: unknown[]) => parseCatalog({ checks }).checks

describe.each(engines())('safety on %s', (engine) => {
  const database = useDatabase(engine)

  beforeAll(async () => {
    await database().exec(`
      create schema safety;
      create table safety.counter (id int primary key, n int not null);
      insert into safety.counter values (1, 0), (2, 0);
      create function safety.bump() returns int language plpgsql volatile as $$
      begin
        update safety.counter set n = n + 1;
        return 1;
      end $$;
    `)
  })

  it('a check whose expression writes is an error, and the table is unchanged', async () => {
    const run = await runChecks(
      database().db,
      catalog([
        { name: 'writes', kind: 'duplicates', table: 'safety.counter', columns: ['safety.bump()'] },
        { name: 'after', kind: 'duplicates', table: 'safety.counter', columns: ['id'] },
      ]),
      { trigger: 'cli' },
    )
    expect(run.results[0]).toMatchObject({ status: 'error', value: null })
    expect(run.results[0]?.error).toMatch(/read-only transaction/)
    expect(run.results[1]).toMatchObject({ status: 'pass', value: 0 })
    const rows = await database().query<{ n: number }>('select n from safety.counter order by id')
    expect(rows.map((r) => r.n)).toEqual([0, 0])
  })

  it('a missing table or column is an error with the database message; the run goes on, exit 2', async () => {
    const run = await runChecks(
      database().db,
      catalog([
        { name: 'no_table', kind: 'duplicates', table: 'safety.nope', columns: ['id'] },
        { name: 'no_column', kind: 'duplicates', table: 'safety.counter', columns: ['id', 'nope'] },
        { name: 'fine', kind: 'duplicates', table: 'safety.counter', columns: ['id'] },
      ]),
      { trigger: 'cli' },
    )
    expect(run.results.map((r) => r.status)).toEqual(['error', 'error', 'pass'])
    expect(run.results[0]?.error).toMatch(
      /check field "table": relation "safety.nope" does not exist/,
    )
    expect(run.results[1]?.error).toMatch(
      /check field "columns\[1\]": column "nope" does not exist/,
    )
    expect(exitCodeFor(run.results)).toBe(2)
    expect(run.recorded).toBe(true)
  })

  it('a kind the database does not have names the kinds it has, whatever the kind text', async () => {
    for (const kind of ['nope', 'duplicates; drop table safety.counter', 'Duplicates', null]) {
      const error = await rejection(
        measureCheck(database().db, { name: 'k', kind } as never, { timeoutSeconds: 30 }),
      )
      expect(error.message).toContain('unknown check kind')
      expect(error.message).toContain(`this database has: ${[...KIND_NAMES].sort().join(', ')}`)
    }
    const rows = await database().query<{ n: number }>(
      'select count(*)::int as n from safety.counter',
    )
    expect(rows[0]?.n).toBe(2)
  })

  // PGlite runs in WebAssembly on the calling thread and cannot interrupt a
  // query, so statement_timeout is a real-server guarantee (see README).
  if (engine === 'postgres') {
    it('a check that outlives timeoutSeconds is an error (timeout); the next check still runs', async () => {
      const started = Date.now()
      const run = await runChecks(
        database().db,
        catalog([
          {
            name: 'slow',
            kind: 'duplicates',
            table: 'safety.counter',
            columns: ['case when pg_sleep(5) is null then id end'],
            timeoutSeconds: 1,
          },
          { name: 'next', kind: 'duplicates', table: 'safety.counter', columns: ['id'] },
        ]),
        { trigger: 'cli' },
      )
      expect(run.results[0]?.status).toBe('error')
      expect(run.results[0]?.error).toMatch(/statement timeout.*timeoutSeconds/)
      expect(run.results[1]).toMatchObject({ status: 'pass' })
      expect(Date.now() - started).toBeLessThan(4_500)
    })

    it('a check waiting on a table lock gives up after the lock timeout', async () => {
      const { default: postgres } = await import('postgres')
      const url = database().url as string
      const locker = postgres(url, { max: 1 })
      try {
        await locker.begin(async (tx) => {
          await tx`lock table safety.counter in access exclusive mode`
          const run = await runChecks(
            database().db,
            catalog([
              { name: 'locked', kind: 'duplicates', table: 'safety.counter', columns: ['id'] },
            ]),
            { trigger: 'cli', record: false },
          )
          expect(run.results[0]?.status).toBe('error')
          expect(run.results[0]?.error).toMatch(/lock/)
        })
      } finally {
        await locker.end()
      }
    }, 20_000)
  }
})
