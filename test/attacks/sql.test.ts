// What a catalog entry can do to the monitored database, tried as an attacker
// would, under a SUPERUSER login (the tests' own): checks run as dq_monitor in
// a subtransaction that is always rolled back, so every attack is an error
// that names what it tried, and user data, large objects, locks and other
// sessions are untouched. The attacks that held before these fixes live here
// too, as a regression suite.
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres, { type Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../checks/catalog.ts'
import type { CheckResult } from '../../checks/result.ts'
import { runChecks } from '../../checks/run-checks.ts'
import { engines, useDatabase } from '../support/databases.ts'

const catalog = (checks: unknown[]) => parseCatalog({ checks }).checks

/** A duplicates check whose key is the attacker's expression. */
const attack = (name: string, expression: string) => ({
  name,
  kind: 'duplicates',
  table: 'victim.accounts',
  columns: [expression],
})

const FIXTURE = `
  create schema victim;
  create table victim.accounts (id int primary key, balance int not null);
  insert into victim.accounts select g, g * 100 from generate_series(1, 10) g;
  create sequence victim.ids;
  create function victim.drain() returns int language plpgsql volatile as $$
  begin
    update victim.accounts set balance = 0;
    return 1;
  end $$;
  create function victim.drain_as_owner() returns int language plpgsql volatile security definer as $$
  begin
    delete from victim.accounts;
    return 1;
  end $$;
`

/** What must not change: user rows, large objects. */
const FINGERPRINT = `
  select (select md5(string_agg(a::text, ',' order by a.id)) from victim.accounts a) as accounts,
         (select md5(coalesce(string_agg(l.oid::text || ':' || l.lomowner::text, ',' order by l.oid), ''))
          from pg_largeobject_metadata l) as large_objects`

describe.each(engines())('attacks through a catalog on %s (superuser login)', (engine) => {
  const database = useDatabase(engine)
  let before: unknown

  beforeAll(async () => {
    await database().exec(FIXTURE)
    before = await database().query(FINGERPRINT)
  })

  const run = async (checks: unknown[]) => {
    const outcome = await runChecks(database().db, catalog(checks), { trigger: 'cli' })
    expect(outcome.recorded).toBe(true)
    return outcome.results
  }
  const unchanged = async () => expect(await database().query(FINGERPRINT)).toEqual(before)
  const failed = (result: CheckResult | undefined, pattern: RegExp) => {
    expect(result?.status).toBe('error')
    expect(result?.error).toMatch(pattern)
  }

  it('lo_create from a READ ONLY check: an error, and no large object is left', async () => {
    const [result, after] = await run([
      attack('lo_create', 'lo_create(0)'),
      { name: 'after', kind: 'duplicates', table: 'victim.accounts', columns: ['id'] },
    ])
    // PostgreSQL 15 lets lo_create through READ ONLY (caught as a write); newer ones refuse it.
    failed(
      result,
      /the check wrote to the database .* rolled back; a check may only read|cannot execute lo_create\(\) in a read-only transaction/,
    )
    expect(after?.status).toBe('pass')
    await unchanged()
  })

  it('lo_import of a server file: refused (no superuser powers), nothing imported', async () => {
    const [result] = await run([attack('lo_import', "lo_import('/etc/hostname')")])
    failed(result, /lo_import.*(may only read|reads or writes files)|must be superuser/)
    await unchanged()
  })

  it('pg_advisory_lock (session level): an error, and the lock does not outlive the check', async () => {
    const [result] = await run([attack('session_lock', 'pg_advisory_lock(4242)::text')])
    failed(result, /session-level advisory lock .* released/)
    // Another session can take it: nobody holds it any more.
    const [free] = await database().query<{ ok: boolean }>(
      'select pg_try_advisory_lock(4242) as ok',
    )
    expect(free?.ok).toBe(true)
    await database().exec('select pg_advisory_unlock(4242)')
  })

  it('volatile and SECURITY DEFINER writers, nextval, writable CTEs, FOR UPDATE: errors, nothing written', async () => {
    const results = await run([
      attack('volatile_writer', 'victim.drain()'),
      attack('definer_writer', 'victim.drain_as_owner()'),
      attack('nextval', "nextval('victim.ids')"),
      attack(
        'writable_cte',
        '(with d as (delete from victim.accounts returning 1) select count(*) from d)',
      ),
      {
        name: 'for_update',
        kind: 'stale_keys',
        table: 'victim.accounts',
        key: 'id::text',
        formula: '(select id::text from victim.accounts for update limit 1)',
      },
    ])
    for (const result of results) {
      expect(result.status, result.check).toBe('error')
      expect(result.error, result.check).toMatch(
        /read-only transaction|may only read|permission denied|WITH clause containing a data-modifying statement must be at the top level|not allowed in a non-volatile function/,
      )
    }
    await unchanged()
  })

  it('set_config in an expression does not leak into the next check', async () => {
    const [first, second] = await run([
      attack('set_timeout', "set_config('search_path', 'victim', false)"),
      {
        name: 'reads_path',
        kind: 'duplicates',
        table: 'victim.accounts',
        columns: ["current_setting('search_path')"],
      },
    ])
    expect(first?.status).not.toBe('error')
    expect(second?.sample).not.toContainEqual(
      expect.objectContaining({ "current_setting('search_path')": 'victim' }),
    )
  })

  // After a plain SET ROLE, set_config('role', ...) switches back: the
  // measurement runs inside a SECURITY DEFINER function owned by dq_monitor,
  // where PostgreSQL refuses to change the role or the session user.
  it.each([
    ['back to the login', "set_config('role', session_user, true)"],
    ['to none', "set_config('role', 'none', true)"],
    [
      'to the session user by authorization',
      "set_config('session_authorization', session_user, true)",
    ],
  ])(
    'switching the role %s inside an expression: refused, powers stay gone',
    async (_, switchRole) => {
      const [result] = await run([
        // current_user, not a privileged call: field checks already refuse those by name.
        attack('role_escape', `case when ${switchRole} is not null then current_user::text end`),
      ])
      failed(
        result,
        /cannot set parameter "(role|session_authorization)" within security-definer function/,
      )
      await unchanged()
    },
  )

  it('a generator whose where switches the role back: refused, nothing expanded', async () => {
    const { expandCatalog } = await import('../../checks/generate.ts')
    await database().exec(`
      create table victim.registry (name text, tab text);
      insert into victim.registry values ('accounts', 'victim.accounts');
      grant select on victim.registry to dq_monitor;`)
    const parsed = parseCatalog({
      checks: [
        {
          generate: {
            name: '{name}_dupes',
            from: 'victim.registry',
            where: "set_config('role', session_user, true) is not null",
            check: { kind: 'duplicates', table: '{tab}', columns: ['id'] },
          },
        },
      ],
    })
    const expanded = await expandCatalog(database().db, parsed)
    expect(expanded.checks).toHaveLength(1)
    expect(expanded.checks[0]?.generated?.error).toMatch(
      /cannot set parameter "role" within security-definer function/,
    )
    await unchanged()
  })

  if (engine === 'postgres') {
    describe('with dblink and other sessions (PostgreSQL)', () => {
      let admin: Sql
      let url: URL
      const marker = join(tmpdir(), `dq-pwned-${process.pid}`)

      beforeAll(async () => {
        url = new URL(database().url as string)
        await database().exec('create extension if not exists dblink')
        admin = postgres(url.toString(), { max: 1, onnotice: () => {} })
      })
      afterAll(async () => {
        await admin?.end()
      })

      const connstr = () =>
        `dbname=${url.pathname.slice(1)} host=${url.hostname} port=${url.port || 5432} user=postgres`

      it('dblink_exec deleting rows: refused (no superuser powers), rows intact', async () => {
        const [result] = await run([
          attack('dblink_delete', `dblink_exec('${connstr()}', 'delete from victim.accounts')`),
        ])
        failed(result, /password is required|permission denied|may only read/)
        await unchanged()
      })

      it('dblink_exec after switching the role back to the superuser login: refused, rows intact', async () => {
        const [result] = await run([
          attack(
            'dblink_escape',
            `case when set_config('role', session_user, true) is not null then dblink_exec('${connstr()}', 'delete from victim.accounts') end`,
          ),
        ])
        failed(result, /cannot set parameter "role" within security-definer function/)
        await unchanged()
      })

      it('COPY TO PROGRAM through dblink: refused, no program ran', async () => {
        const [result] = await run([
          attack(
            'dblink_program',
            `dblink_exec('${connstr()}', 'copy (select 1) to program ''touch ${marker}''')`,
          ),
        ])
        failed(result, /password is required|permission denied|may only read/)
        await expect(readFile(marker)).rejects.toThrow()
      })

      it('pg_terminate_backend on another session: refused, and that session lives', async () => {
        const [victim] = await admin<{ pid: number }[]>`select pg_backend_pid() as pid`
        const [result] = await run([
          attack('terminate', `pg_terminate_backend(${victim?.pid})::text`),
        ])
        failed(result, /terminate|must be a member of the role|without superuser powers/)
        const [alive] = await admin<{ one: number }[]>`select 1 as one`
        expect(alive?.one).toBe(1)
      })

      it('a login that can do more than read and cannot become dq_monitor is refused, unless it opts in', async () => {
        await database().exec(`
          do $$ begin
            if to_regrole('dq_signaller') is null then create role dq_signaller login; end if;
          end $$;
          grant pg_signal_backend to dq_signaller;
          grant usage on schema dq, victim to dq_signaller;
          grant execute on all functions in schema dq to dq_signaller;
          grant select, insert, update on all tables in schema dq to dq_signaller;
          grant select on victim.accounts to dq_signaller;`)
        const { PgDatabase } = await import('../../db/node-postgres.ts')
        const as = new URL(url)
        as.username = 'dq_signaller'
        const refused = PgDatabase.connect(as.toString())
        const optedIn = PgDatabase.connect(as.toString(), { allowPrivilegedLogin: true })
        try {
          const check = catalog([
            { name: 'plain', kind: 'duplicates', table: 'victim.accounts', columns: ['id'] },
          ])
          const no = await runChecks(refused, check, { trigger: 'cli', record: false })
          expect(no.results[0]).toMatchObject({ status: 'error', error_code: 'privileged_login' })
          expect(no.results[0]?.error).toMatch(
            /checks would run as dq_signaller, which can do more than read: pg_signal_backend \(terminate other sessions\), and cannot become dq_monitor/,
          )
          const yes = await runChecks(optedIn, check, { trigger: 'cli', record: false })
          expect(yes.results[0]).toMatchObject({ status: 'pass' })
        } finally {
          await refused.close()
          await optedIn.close()
          await database().exec(`
            revoke all on all tables in schema dq from dq_signaller;
            revoke all on all functions in schema dq from dq_signaller;
            revoke all on schema dq, victim from dq_signaller;
            revoke all on victim.accounts from dq_signaller;`)
        }
      })
    })
  }

  it('after every attack: user data and large objects are as they were', async () => {
    await unchanged()
  })
})
