// Unchanged tables cost nothing (supabase/schemas/27_unchanged.sql): a cron
// tick answers a check whose tables did not change since its last full scan
// from that scan, and scans again after every way a table can change.
//
// Writes that must be seen are followed by pg_stat_force_next_flush(): the
// writer publishes its counts as it goes idle, before its reply, so the next
// tick sees them (README "Unchanged tables" says how late they can be without
// it). Writes that must NOT be seen run with track_counts off: PostgreSQL does
// not count them, which proves that an unchanged answer did not read the table.

import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog, type ResolvedCheck } from '../checks/catalog.ts'
import { expandCatalog } from '../checks/generate.ts'
import type { CheckResult } from '../checks/result.ts'
import { runChecks } from '../checks/run-checks.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { spec } from './support/checks.ts'
import { engines, useDatabase } from './support/databases.ts'

const FIXTURE = `
create schema uc;
create table uc.t (id int primary key, v int not null, at timestamptz not null default now() - interval '1 day');
create table uc.other (v int);
insert into uc.other values (3);
`
// 100 rows, 10 of them with v = 3 (the violation the checks count).
const FILL = 'insert into uc.t (id, v) select g, g % 10 from generate_series(1, 100) g'
const FLUSH = 'select pg_stat_force_next_flush()'
/** SQL run with track_counts off: PostgreSQL does not count its writes. */
const uncounted = (sql: string) => `begin; set local track_counts = off; ${sql}; commit`

/** details.change_evidence: what a full scan saw, or why the check always scans. */
const evidence = (result: CheckResult | undefined) =>
  (result?.details.change_evidence ?? {}) as {
    fingerprint?: string
    spec_hash?: string
    scanned_at?: string
    doubt?: string
  }

const ROWS = { kind: 'rows', table: 'uc.t', where: 'v = 3', threshold: { fail: 0 } }

describe.each(engines())('unchanged tables on %s', (engine) => {
  const database = useDatabase(engine)
  let counter = 0

  /** A cron tick of one check (scan: 'changed'), recorded in history. */
  const tick = async (input: Record<string, unknown>, name: string): Promise<CheckResult> => {
    const run = await runChecks(database().db, [spec({ name, ...input })], {
      trigger: 'cron',
      scan: 'changed',
    })
    expect(run.recorded).toBe(true)
    const [result] = run.results
    if (!result) throw new Error('no result')
    expect(result.error).toBeNull()
    return result
  }
  /** A fresh table uc.<name> like uc.t, filled, so that each test has its own counters. */
  const table = async (): Promise<{ name: string; table: string }> => {
    counter += 1
    const name = `t${counter}`
    await database().exec(
      `create table uc.${name} (like uc.t including all);
       ${FILL.replace('uc.t', `uc.${name}`)}; ${FLUSH}`,
    )
    return { name: `uc_${name}`, table: `uc.${name}` }
  }

  beforeAll(async () => {
    await database().exec(`${FIXTURE}; ${FILL}`)
  })

  it('dq.spec_hash hashes the spec as the runner sends it: every field but scan', async () => {
    // The runner sends only what the kind's SQL reads (checks/store.test.ts), so no field is
    // left out here but the one that differs between runs of one definition.
    const [row] = await database().query<Record<string, boolean>>(`
      with s(spec) as (values ('{"name": "h", "kind": "rows", "table": "uc.t", "where": "v = 3"}'::jsonb))
      select dq.spec_hash(spec) = dq.spec_hash(spec || '{"scan": "changed"}') as scan_left_out,
             dq.spec_hash(spec) = dq.spec_hash(spec || '{"owner": "@x"}') as owner,
             dq.spec_hash(spec) = dq.spec_hash(spec || '{"severity": "info"}') as severity,
             dq.spec_hash(spec) = dq.spec_hash(spec || '{"fullEvery": "2 hours"}') as full_every,
             dq.spec_hash(spec) = dq.spec_hash(spec || '{"where": "v = 4"}') as "where"
      from s`)
    expect(row).toEqual({
      scan_left_out: true,
      owner: false,
      severity: false,
      full_every: false,
      where: false,
    })
  })

  if (engine === 'pglite') {
    it('PGlite keeps no table statistics: every tick scans, and says why', async () => {
      const first = await tick(ROWS, 'pglite_rows')
      const second = await tick(ROWS, 'pglite_rows')
      expect(second.details.scope).not.toBe('unchanged')
      expect(second.details.change_evidence).toEqual({
        doubt: expect.stringContaining('PGlite keeps no table statistics'),
      })
      expect(second.value).toBe(first.value)
    })
    return
  }

  it('an unchanged table is answered from its last full scan: same value, status and sample, no read', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t }
    const full = await tick(check, name)
    expect(full).toMatchObject({ status: 'fail', value: 10 })
    expect(full.details.scope).toBeUndefined()
    expect(full.details.change_evidence).toEqual({
      fingerprint: expect.any(String),
      spec_hash: expect.any(String),
      scanned_at: expect.any(String),
      tables: [t],
      functions: [],
    })

    const answered = await tick(check, name)
    expect(answered).toMatchObject({ status: 'fail', value: 10, sample: full.sample })
    expect(answered.details).toMatchObject({ scope: 'unchanged', rows: 100, matching: 10 })
    expect(answered.details.change_evidence).toEqual(full.details.change_evidence)

    // A write PostgreSQL does not count (track_counts off) and that leaves the
    // file as it was: the answer still says 10, so the table was not read.
    await database().exec(uncounted(`delete from ${t} where id = 3`))
    const blind = await tick(check, name)
    expect(blind).toMatchObject({ value: 10, details: { scope: 'unchanged' } })

    // The next counted write makes the tick scan; the uncounted one is seen too,
    // because unchanged answers never move the evidence forward.
    await database().exec(`update ${t} set v = 3 where id = 1; ${FLUSH}`)
    const scanned = await tick(check, name)
    expect(scanned.details.scope).toBeUndefined()
    // id 3 gone (the uncounted delete), id 1 now v = 3.
    expect(scanned.details).toMatchObject({ rows: 99, matching: 10 })
    expect(scanned.sample).not.toContainEqual({ id: 3 })
  })

  it('an ad hoc run (scan: all, the default) always reads the table', async () => {
    const { name, table: t } = await table()
    await tick({ ...ROWS, table: t }, name)
    const run = await runChecks(database().db, [spec({ name, ...ROWS, table: t })], {
      trigger: 'cli',
    })
    expect(run.results[0]?.details.scope).toBeUndefined()
    expect(run.results[0]?.value).toBe(10)
  })

  describe('every way a table changes makes the next tick scan', () => {
    const cases: [string, (t: string) => string, number][] = [
      ['insert', (t) => `insert into ${t} (id, v) values (1001, 3)`, 11],
      ['update', (t) => `update ${t} set v = 3 where id = 1`, 11],
      ['delete', (t) => `delete from ${t} where id = 3`, 9],
      // Emptied and refilled uncounted with 100 rows of the same width: only the file node tells.
      [
        'truncate',
        (t) =>
          `truncate ${t}; ${uncounted(`insert into ${t} (id, v) select g, (g + 1) % 10 from generate_series(1, 100) g`)}`,
        10,
      ],
      [
        'a rewrite: ALTER COLUMN ... TYPE',
        (t) => `alter table ${t} alter column v type bigint`,
        10,
      ],
      ['a rewrite: VACUUM FULL', (t) => `vacuum full ${t}`, 10],
    ]
    it.each(cases)('%s', async (_label, change, expected) => {
      const { name, table: t } = await table()
      const check = { ...ROWS, table: t }
      const full = await tick(check, name)
      expect((await tick(check, name)).details.scope).toBe('unchanged')
      // Apart: VACUUM cannot run inside the implicit transaction of a multi-statement query.
      await database().exec(change(t))
      await database().exec(FLUSH)
      const after = await tick(check, name)
      expect(after.details.scope).toBeUndefined()
      expect(after.value).toBe(expected)
      expect(evidence(after).scanned_at).not.toBe(evidence(full).scanned_at)
    })

    it('COPY', async () => {
      const { name, table: t } = await table()
      const check = { ...ROWS, table: t }
      await tick(check, name)
      expect((await tick(check, name)).details.scope).toBe('unchanged')
      // A file the server reads (it runs on this machine in the tests).
      const file = join(tmpdir(), `dq-unchanged-${process.pid}.csv`)
      await writeFile(file, '2001,3\n2002,3\n', { mode: 0o644 })
      await database().exec(`copy ${t} (id, v) from '${file}' with (format csv); ${FLUSH}`)
      const after = await tick(check, name)
      expect(after.details.scope).toBeUndefined()
      expect(after.value).toBe(12)
    })

    it('attach and detach of a partition', async () => {
      counter += 1
      const p = `uc.p${counter}`
      await database().exec(`
        create table ${p} (id int, v int not null) partition by range (id);
        create table ${p}_a partition of ${p} for values from (1) to (1001);
        insert into ${p} select g, g % 10 from generate_series(1, 100) g;
        create table ${p}_b (id int, v int not null);
        insert into ${p}_b select g, 3 from generate_series(1001, 1005) g;
        ${FLUSH}`)
      const check = { ...ROWS, table: p }
      const name = `uc_p${counter}`
      expect((await tick(check, name)).value).toBe(10)
      expect((await tick(check, name)).details.scope).toBe('unchanged')
      await database().exec(
        `alter table ${p} attach partition ${p}_b for values from (1001) to (2001); ${FLUSH}`,
      )
      const attached = await tick(check, name)
      expect(attached.details.scope).toBeUndefined()
      expect(attached.value).toBe(15)
      expect((await tick(check, name)).details.scope).toBe('unchanged')
      await database().exec(`alter table ${p} detach partition ${p}_b; ${FLUSH}`)
      const detached = await tick(check, name)
      expect(detached.details.scope).toBeUndefined()
      expect(detached.value).toBe(10)
    })

    // The counters go back to zero; with the rows written uncounted (zeros to
    // begin with), only the reset time tells. A counted read before and after
    // the reset gives the table statistics (its seq_scan) and leaves its write
    // counters at zero: not the doubt of a table with none.
    it.each([
      ['pg_stat_reset()', () => 'select pg_stat_reset()'],
      [
        'pg_stat_reset_single_table_counters()',
        (t: string) => `select pg_stat_reset_single_table_counters('${t}'::regclass)`,
      ],
    ])('%s', async (_label, reset) => {
      counter += 1
      const t = `uc.z${counter}`
      const name = `uc_z${counter}`
      const read = `select count(*) from ${t}; ${FLUSH}`
      await database().exec(
        uncounted(`create table ${t} (like uc.t including all); ${FILL.replace('uc.t', t)}`),
      )
      await database().exec(read)
      const check = { ...ROWS, table: t }
      await tick(check, name)
      expect((await tick(check, name)).details.scope).toBe('unchanged')
      await database().exec(`${uncounted(`delete from ${t} where id = 3`)}; ${reset(t)}`)
      await database().exec(read)
      const after = await tick(check, name)
      expect(after.details.scope).toBeUndefined()
      expect(after.value).toBe(9)
      expect(evidence(after).fingerprint).toBeDefined()
    })
  })

  it('a procedure that has committed inside a running CALL: the tick scans, and sees its write', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t }
    await tick(check, name)
    await database().exec(`
      create procedure uc.slow_writer() language plpgsql as $$
      begin
        delete from ${t} where id = 3;
        commit;
        perform pg_sleep(3);
      end $$`)
    const url = database().url as string
    const writer = postgres(url, { max: 1, onnotice: () => {} })
    // postgres.js sends a query when it is awaited: execute() sends it now.
    const call = writer.unsafe('call uc.slow_writer()').execute()
    try {
      // Until its COMMIT is behind it: its own transaction then started after its statement.
      for (let i = 0; i < 100; i += 1) {
        const [row] = await database().query<{ committed: boolean }>(
          `select coalesce(bool_or(xact_start > query_start), false) as committed
           from pg_stat_activity where query like 'call uc.slow_writer%'`,
        )
        if (row?.committed) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const during = await tick(check, name)
      expect(during.details.scope).toBeUndefined()
      expect(evidence(during).doubt).toMatch(/committed inside itself/)
      expect(during.value).toBe(9)
    } finally {
      await call
      await writer.end()
    }
  })

  describe('checks that depend on more than their table always scan, and say why', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'now() in a predicate',
        { ...ROWS, where: "v = 3 and at < now() - interval '1 hour'" },
        /calls now\(\)/,
      ],
      ["'today' in a predicate", { ...ROWS, where: "v = 3 and at < 'today'::date" }, /clock/],
      ['current_date', { ...ROWS, where: 'v = 3 and at < current_date' }, /current_date/],
      [
        'another table in a subquery',
        { ...ROWS, where: 'v in (select v from uc.other)' },
        /subquery/,
      ],
      ['a volatile function', { ...ROWS, where: 'v = 3 and random() < 2' }, /random\(\)/],
      ['a view', { ...ROWS, table: 'uc.v' }, /is a view/],
      // file_fdw: a contrib extension every PostgreSQL package ships.
      [
        'a foreign table',
        { ...ROWS, table: 'uc.f' },
        /uc\.f is a foreign table: its writes are not counted here/,
      ],
      [
        'the trigger kind',
        { kind: 'trigger', table: 'uc.t', trigger: 'nope', threshold: undefined },
        /trigger kind/,
      ],
      [
        'the freshness kind',
        { kind: 'freshness', table: 'uc.t', column: 'at', threshold: { fail: 48 } },
        /freshness kind/,
      ],
    ]
    beforeAll(async () => {
      // The foreign table's rows: the 10 of uc.t with v = 3 and 90 others.
      const file = join(tmpdir(), `dq-unchanged-fdw-${process.pid}.csv`)
      await writeFile(
        file,
        Array.from({ length: 100 }, (_, i) => `${i + 1},${(i + 1) % 10}\n`).join(''),
        { mode: 0o644 },
      )
      await database().exec(`
        create view uc.v as select * from uc.t;
        create extension if not exists file_fdw;
        create server uc_files foreign data wrapper file_fdw;
        create foreign table uc.f (id int, v int) server uc_files
          options (filename '${file}', format 'csv')`)
    })
    it.each(cases)('%s', async (label, input, why) => {
      const name = `uc_doubt_${label.replace(/[^a-z]+/g, '_').replace(/_+$/, '')}`.slice(0, 60)
      const check = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
      // Twice: the second tick has a full scan to be answered from, and still scans. Each
      // measures (tick: no error) and says its doubt, not an error in its place.
      for (const _ of [1, 2]) {
        const result = await tick(check, name)
        expect(result.details.scope).not.toBe('unchanged')
        expect(evidence(result)).toEqual({ doubt: expect.stringMatching(why) })
      }
    })
  })

  it('a session with track_counts off: its ticks scan, and say why', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t }
    await tick(check, name)
    expect((await tick(check, name)).details.scope).toBe('unchanged')
    // A monitor whose sessions count nothing (a setting of the login or the database).
    const url = new URL(database().url as string)
    url.searchParams.set('options', '-c track_counts=off')
    const blind = PgDatabase.connect(url.toString())
    try {
      const run = await runChecks(blind, [spec({ name, ...check })], {
        trigger: 'cron',
        scan: 'changed',
      })
      const [result] = run.results
      expect(result).toMatchObject({ error: null, value: 10 })
      expect(result?.details.scope).toBeUndefined()
      expect(evidence(result)).toEqual({ doubt: expect.stringMatching(/track_counts is off/) })
    } finally {
      await blind.close()
    }
  })

  it('a table PostgreSQL has counted nothing on (no statistics entry) scans, and says why, until it is counted', async () => {
    counter += 1
    const t = `uc.n${counter}`
    const name = `uc_n${counter}`
    // Created and filled uncounted: pg_stat_user_tables shows it with nothing counted.
    await database().exec(
      uncounted(`create table ${t} (like uc.t including all); ${FILL.replace('uc.t', t)}`),
    )
    const [stats] = await database().query<{ present: boolean }>(
      `select pg_stat_have_stats('relation', (select oid from pg_database where datname = current_database()), '${t}'::regclass) as present`,
    )
    expect(stats?.present).toBe(false)
    const check = { ...ROWS, table: t }
    for (const _ of [1, 2]) {
      const result = await tick(check, name)
      expect(result.details.scope).toBeUndefined()
      expect(result.value).toBe(10)
      expect(evidence(result)).toEqual({
        doubt: `${t} has no statistics: PostgreSQL has counted nothing on it (created or written with track_counts off, restored, or its statistics reset or lost since)`,
      })
    }
    // Counted once (a read, published): the next tick has evidence, the one after answers from it.
    await database().exec(`select count(*) from ${t}; ${FLUSH}`)
    const counted = await tick(check, name)
    expect(counted.details.scope).toBeUndefined()
    expect(evidence(counted).fingerprint).toBeDefined()
    expect((await tick(check, name)).details.scope).toBe('unchanged')
  })

  describe('a generated check (catalog `generate`) follows its kind: coverage_gap', () => {
    // One check per active registry row, expanded in the database at every tick
    // (dq.expand_generator), as the Worker's cron does.
    const catalog = parseCatalog({
      checks: [
        {
          generate: {
            name: '{workflow}_gap',
            from: 'uc.registry',
            where: 'active',
            check: {
              kind: 'coverage_gap',
              source: { table: '{source_table}', key: '{key_column}' },
              target: { table: '{target_table}', key: '{key_column}' },
              threshold: { fail: 0 },
              owner: '@registry',
            },
          },
        },
      ],
    })
    const generatedTick = async (): Promise<CheckResult> => {
      const expanded = await expandCatalog(database().db, catalog)
      const checks = expanded.checks.filter((check: ResolvedCheck) => check.generated)
      expect(checks.map((check) => check.name)).toEqual(['flow_gap'])
      const run = await runChecks(database().db, checks, { trigger: 'cron', scan: 'changed' })
      const [result] = run.results
      if (!result) throw new Error('no result')
      expect(result.error).toBeNull()
      return result
    }

    beforeAll(async () => {
      // uc.src: ids 1-100; uc.dst: 1-90 (10 missing); uc.dst2: 1-95 (5 missing).
      await database().exec(`
        create table uc.src (id int primary key);
        create table uc.dst (id int primary key);
        create table uc.dst2 (id int primary key);
        insert into uc.src select g from generate_series(1, 100) g;
        insert into uc.dst select g from generate_series(1, 90) g;
        insert into uc.dst2 select g from generate_series(1, 95) g;
        create table uc.registry (workflow text primary key, source_table text, target_table text,
                                  key_column text, active boolean, note text);
        insert into uc.registry values ('flow', 'uc.src', 'uc.dst', 'id', true, 'first'),
                                       ('idle', 'uc.src', 'uc.dst', 'id', false, null);
        ${FLUSH}`)
    })

    it('answered unchanged while nothing changes; scans when its registry row or its tables change', async () => {
      const full = await generatedTick()
      expect(full).toMatchObject({ check: 'flow_gap', status: 'fail', value: 10 })
      expect(full.details.scope).toBeUndefined()
      expect(evidence(full).fingerprint).toBeDefined()

      const answered = await generatedTick()
      expect(answered).toMatchObject({ value: 10, details: { scope: 'unchanged' } })
      expect(answered.details.change_evidence).toEqual(full.details.change_evidence)

      // A registry edit that leaves the check's spec as it was: still answered.
      await database().exec(
        `update uc.registry set note = 'second' where workflow = 'flow'; ${FLUSH}`,
      )
      expect((await generatedTick()).details.scope).toBe('unchanged')

      // The row points the check at another target: a new spec hash, though no table it read changed.
      await database().exec(
        `update uc.registry set target_table = 'uc.dst2' where workflow = 'flow'; ${FLUSH}`,
      )
      const retargeted = await generatedTick()
      expect(retargeted.details.scope).toBeUndefined()
      expect(retargeted.value).toBe(5)
      expect(evidence(retargeted).spec_hash).not.toBe(evidence(full).spec_hash)
      expect((await generatedTick()).details.scope).toBe('unchanged')

      // A write to a table it reads.
      await database().exec(`insert into uc.src values (101); ${FLUSH}`)
      const written = await generatedTick()
      expect(written.details.scope).toBeUndefined()
      expect(written.value).toBe(6)
      expect((await generatedTick()).details.scope).toBe('unchanged')
    })
  })

  it('a function the check calls, replaced, makes it scan; a dropped column is the error a scan gives', async () => {
    const { name, table: t } = await table()
    await database().exec(
      'create function uc.bad(v int) returns boolean language sql immutable as $$ select v = 3 $$',
    )
    const check = { ...ROWS, table: t, where: 'uc.bad(v)' }
    expect((await tick(check, name)).value).toBe(10)
    expect((await tick(check, name)).details.scope).toBe('unchanged')
    await database().exec(
      'create or replace function uc.bad(v int) returns boolean language sql immutable as $$ select v = 4 $$',
    )
    const replaced = await tick(check, name)
    expect(replaced.details.scope).toBeUndefined()
    expect(replaced.value).toBe(10) // v = 4: 10 rows too, but read again
    expect(evidence(replaced).scanned_at).toBeDefined()

    await database().exec(`alter table ${t} add column extra int; ${FLUSH}`)
    const withExtra = { ...ROWS, table: t, where: 'v = 3 and extra is null' }
    await tick(withExtra, `${name}_x`)
    expect((await tick(withExtra, `${name}_x`)).details.scope).toBe('unchanged')
    await database().exec(`alter table ${t} drop column extra`)
    const run = await runChecks(database().db, [spec({ name: `${name}_x`, ...withExtra })], {
      trigger: 'cron',
      scan: 'changed',
    })
    expect(run.results[0]).toMatchObject({ status: 'error' })
    expect(run.results[0]?.error).toContain('extra')
  })

  it('a changed definition scans; a changed threshold keeps the answer and judges it anew', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t }
    await tick(check, name)
    const stricter = await tick({ ...check, threshold: { fail: 20 } }, name)
    expect(stricter).toMatchObject({ status: 'pass', value: 10, details: { scope: 'unchanged' } })
    // Nor do the other fields only the runner and the policy read (they never reach SQL).
    const policy = {
      description: 'edited',
      owner: '@other',
      severity: 'critical',
      tags: ['edited'],
      repeatInterval: '2 hours',
      timeoutSeconds: 30,
      anomaly: { sensitivity: 4 },
    }
    const edited = await tick({ ...check, threshold: { fail: 20 }, ...policy }, name)
    expect(edited).toMatchObject({ value: 10, details: { scope: 'unchanged' } })
    const other = await tick({ ...check, where: 'v = 4' }, name)
    expect(other.details.scope).toBeUndefined()
    expect(other.value).toBe(10)
  })

  it('fullEvery forces a scan once the last full scan is that old', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t, fullEvery: '2 hours' }
    await tick(check, name)
    expect((await tick(check, name)).details.scope).toBe('unchanged')
    // The last full scan, moved 3 hours back.
    await database().exec(`
      update dq.results set details = jsonb_set(details, '{change_evidence,scanned_at}',
        to_jsonb(now() - interval '3 hours'))
      where check_name = '${name}'`)
    expect((await tick(check, name)).details.scope).toBeUndefined()
    expect((await tick(check, name)).details.scope).toBe('unchanged')
  })

  it('a check whose last result is an error scans', async () => {
    const { name, table: t } = await table()
    const check = { ...ROWS, table: t }
    await tick(check, name)
    await database().exec(`update dq.results set status = 'error' where check_name = '${name}'`)
    expect((await tick(check, name)).details.scope).toBeUndefined()
  })
})
