// Incremental runs of duplicates, stale_keys and coverage_gap, on PGlite and
// real PostgreSQL: the first run is full, the next ones check only rows
// changed since the watermark kept in history, a new bad row is caught within
// one run, and a full run comes back after fullEvery or when the check changes.

import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Measurement } from '../checks/result.ts'
import { runChecks } from '../checks/run-checks.ts'
import { indexAdvice, measureCheck, validateCheck } from '../checks/store.ts'
import { RUN, rejection, spec } from './support/checks.ts'
import { engines, type TestDatabase, useDatabase } from './support/databases.ts'

// Rows a day or two old; each test adds rows written "now".
const FIXTURE = `
create schema inc;

-- stale_keys: key must be lower(name). Row 3 is stale, and old.
create table inc.items (id int primary key, name text, key text, updated_at timestamptz not null);
insert into inc.items values
  (1, 'Ant', 'ant', now() - interval '2 days'),
  (2, 'Bee', 'bee', now() - interval '2 days'),
  (3, 'Cat', 'wrong', now() - interval '2 days'),
  (4, 'Dog', 'dog', now() - interval '1 day');
create index items_updated_at on inc.items (updated_at);

-- duplicates on lower(email); two old rows share a NULL email.
create table inc.people (id int primary key, email text, updated_at timestamptz not null);
insert into inc.people values
  (1, 'a@x.com', now() - interval '2 days'),
  (2, 'A@X.com', now() - interval '2 days'),
  (3, 'b@x.com', now() - interval '2 days'),
  (4, null, now() - interval '2 days'),
  (5, null, now() - interval '1 day'),
  (6, 'c@x.com', now() - interval '1 day');
create index people_updated_at on inc.people (updated_at);
create index people_email on inc.people (lower(email));

-- coverage_gap: source 3 has no target row, and is old.
create table inc.source (id int primary key, updated_at timestamptz not null);
insert into inc.source values (1, now() - interval '2 days'), (2, now() - interval '2 days'),
  (3, now() - interval '2 days'), (4, now() - interval '1 day');
create table inc.target (source_id int);
insert into inc.target values (1), (2), (4);
create index source_updated_at on inc.source (updated_at);
create index target_source_id on inc.target (source_id);

-- A date column works too.
create table inc.daily (id int primary key, name text, key text, day date not null);
insert into inc.daily values (1, 'X', 'x', current_date - 3), (2, 'Y', 'bad', current_date - 3);
`

const STALE = {
  kind: 'stale_keys',
  table: 'inc.items',
  key: 'key',
  formula: 'lower(name)',
  incremental: { column: 'updated_at', fullEvery: '24 hours' },
}
const DUPLICATES = {
  kind: 'duplicates',
  table: 'inc.people',
  columns: ['lower(email)'],
  id: 'id',
  incremental: { column: 'updated_at' },
}
const GAP = {
  kind: 'coverage_gap',
  source: { table: 'inc.source', key: 'id' },
  target: { table: 'inc.target', key: 'source_id' },
  incremental: { column: 'updated_at' },
}

describe.each(engines())('incremental runs on %s', (engine) => {
  const database = useDatabase(engine)

  /** Runs a named check through the runner and records it in history, as `dq run` does. */
  const recorded = async (name: string, input: Record<string, unknown>) => {
    const run = await runChecks(database().db, [spec({ name, ...input })], { trigger: 'cli' })
    expect(run.recorded).toBe(true)
    const [result] = run.results
    if (!result) throw new Error('no result')
    expect(result.error).toBeNull()
    return result
  }
  const measure = (name: string, input: Record<string, unknown>): Promise<Measurement> =>
    measureCheck(database().db, spec({ name, ...input }), RUN)

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  describe('stale_keys', () => {
    it('first run is full and records a watermark; the next checks only changed rows', async () => {
      const first = await recorded('stale_inc', STALE)
      expect(first.value).toBe(1)
      expect(first.details).toMatchObject({ rows: 4, mismatched: 1, scope: 'full', since: null })
      expect(first.details.watermark).toEqual(expect.any(String))
      expect(first.details.full_at).toEqual(expect.any(String))
      expect(first.details.spec_hash).toEqual(expect.any(String))

      // Nothing new: the run re-reads only the rows within the lookback (10 minutes by
      // default) of the watermark, here row 4. The old stale row 3 is not read again.
      const quiet = await recorded('stale_inc', STALE)
      expect(quiet.details).toMatchObject({ scope: 'incremental', rows: 1, mismatched: 0 })
      expect(quiet.value).toBe(0)
      expect(quiet.details.watermark).toBe(first.details.watermark)
      expect(quiet.details.full_at).toBe(first.details.full_at)

      // A new stale row is caught by the very next run.
      await database().exec(
        "insert into inc.items values (10, 'Eel', 'EEL', now()), (11, 'Fox', 'fox', now())",
      )
      const next = await recorded('stale_inc', STALE)
      expect(next.details).toMatchObject({ scope: 'incremental', rows: 3, mismatched: 1 })
      expect(next.value).toBe(1)
      expect(next.sample).toEqual([{ id: 10, stored: 'EEL', expected: 'eel' }])
      // since = the previous watermark minus the lookback (10 minutes by default).
      const since = Date.parse(String(next.details.since))
      expect(Date.parse(String(first.details.watermark)) - since).toBe(10 * 60 * 1000)
      expect(Date.parse(String(next.details.watermark))).toBeGreaterThan(
        Date.parse(String(first.details.watermark)),
      )
    })

    it('a row committed with an updated_at older than watermark - lookback waits for the next full run', async () => {
      // A long transaction stamps now() at its start: past the lookback, the
      // incremental runs cannot see it (README: set lookback above the longest writer).
      await recorded('stale_late', STALE)
      await database().exec(
        "insert into inc.items values (30, 'Gnu', 'GNU', now() - interval '20 minutes')",
      )
      const incremental = await recorded('stale_late', STALE)
      expect(incremental.details.scope).toBe('incremental')
      expect(incremental.sample).not.toContainEqual(expect.objectContaining({ id: 30 }))
      const wider = await recorded('stale_late', {
        ...STALE,
        incremental: { ...STALE.incremental, lookback: '30 minutes' },
      })
      // a new lookback is a changed check: full, and it sees the row
      expect(wider.details).toMatchObject({ scope: 'full' })
      expect(wider.sample).toContainEqual({ id: 30, stored: 'GNU', expected: 'gnu' })
      await database().exec('delete from inc.items where id = 30')
    })

    it('runs full again once fullEvery has passed since the last full run', async () => {
      await database().exec(`
        update dq.results set details = jsonb_set(details, '{full_at}', to_jsonb(now() - interval '25 hours'))
        where check_name = 'stale_inc'`)
      const full = await recorded('stale_inc', STALE)
      expect(full.details).toMatchObject({ scope: 'full', since: null, rows: 6, mismatched: 2 })
      expect(full.value).toBe(2)
      expect(Date.parse(String(full.details.full_at))).toBeGreaterThan(Date.now() - 60_000)
    })

    it('runs full when the check itself changed (a new formula), not when its threshold did', async () => {
      const rethresholded = await recorded('stale_inc', {
        ...STALE,
        threshold: { fail: 5 },
        owner: '@someone',
      })
      expect(rethresholded.details.scope).toBe('incremental')
      const reformulated = await recorded('stale_inc', { ...STALE, formula: 'upper(name)' })
      expect(reformulated.details.scope).toBe('full')
    })

    it('an errored run is not a starting point; a check without history runs full', async () => {
      await database().exec(`
        insert into dq.runs (id, trigger, started_at, duration_ms)
        values ('00000000-0000-4000-8000-000000000001', 'cli', now() + interval '1 minute', 0);
        insert into dq.results (run_id, check_name, kind, status, value, threshold, details, error,
                                duration_ms, trigger, started_at)
        values ('00000000-0000-4000-8000-000000000001', 'stale_inc', 'stale_keys', 'error', null,
                '{}', '{}', 'boom', 0, 'cli', now() + interval '1 minute')`)
      const after = await measure('stale_inc', { ...STALE, formula: 'upper(name)' })
      expect(after.details.scope).toBe('incremental')
      const fresh = await measure('stale_never_run', STALE)
      expect(fresh.details.scope).toBe('full')
    })

    it('a date column: the watermark and since are dates', async () => {
      const daily = { ...STALE, table: 'inc.daily', incremental: { column: 'day' } }
      const first = await recorded('daily_inc', daily)
      expect(first.details).toMatchObject({ scope: 'full', rows: 2, mismatched: 1 })
      await database().exec("insert into inc.daily values (3, 'Z', 'nope', current_date)")
      // A date moves by days: the lookback re-reads the watermark's whole day.
      const next = await recorded('daily_inc', daily)
      expect(next.details).toMatchObject({ scope: 'incremental', rows: 3, mismatched: 2 })
      expect(next.details.since).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    })
  })

  describe('duplicates', () => {
    it('counts the whole group of every changed key, NULL keys included', async () => {
      const first = await recorded('dup_inc', DUPLICATES)
      expect(first.details).toMatchObject({ scope: 'full', groups: 2, extra_rows: 2, keys: 4 })

      // A new row repeats an old key; another repeats the NULL key; a third is new.
      await database().exec(`insert into inc.people values
        (10, 'b@X.COM', now()), (11, null, now()), (12, 'd@x.com', now())`)
      // Changed: rows 10..12, and rows 5 and 6 (within the lookback of the watermark).
      const next = await recorded('dup_inc', DUPLICATES)
      expect(next.details).toMatchObject({
        scope: 'incremental',
        changed_rows: 5,
        keys: 4,
        groups: 2,
        extra_rows: 3,
        rows: 7,
        largest_group: 3,
      })
      expect(next.value).toBe(3)
      expect(next.sample).toEqual([
        { 'lower(email)': null, rows: 3, ids: [4, 5, 11] },
        { 'lower(email)': 'b@x.com', rows: 2, ids: [3, 10] },
      ])
    })

    it('with nothing changed: no groups, and the watermark stays', async () => {
      // A watermark an hour ahead: no row is newer.
      await database().exec(`
        update dq.results set details = jsonb_set(details, '{watermark}', to_jsonb(now() + interval '1 hour'))
        where check_name = 'dup_inc'`)
      const quiet = await recorded('dup_inc', DUPLICATES)
      expect(quiet.details).toMatchObject({
        scope: 'incremental',
        changed_rows: 0,
        groups: 0,
        keys: 0,
      })
      expect(quiet.value).toBe(0)
      expect(Date.parse(String(quiet.details.watermark))).toBeGreaterThan(Date.now())
    })

    it('more key parts than get an arm each: the NULL patterns present are read first', async () => {
      await database().exec(`
        create table inc.wide (id int primary key, a int, b int, c int, d int, e int, updated_at timestamptz not null);
        insert into inc.wide values (1, 1, 1, 1, 1, null, now() - interval '2 days'),
                                    (2, 1, 1, 1, 1, 1, now() - interval '2 days')`)
      const wide = {
        kind: 'duplicates',
        table: 'inc.wide',
        columns: ['a', 'b', 'c', 'd', 'e'],
        incremental: { column: 'updated_at' },
      }
      expect((await recorded('wide_inc', wide)).value).toBe(0)
      await database().exec(
        'insert into inc.wide values (3, 1, 1, 1, 1, null, now()), (4, 2, 2, 2, 2, 2, now())',
      )
      const next = await recorded('wide_inc', wide)
      // Rows 1 and 2 sit at the watermark (within the lookback): read again.
      expect(next.details).toMatchObject({ scope: 'incremental', changed_rows: 4, groups: 1 })
      expect(next.value).toBe(1)
      await database().exec(`
        update dq.results set details = jsonb_set(details, '{watermark}', to_jsonb(now() + interval '1 hour'))
        where check_name = 'wide_inc'`)
      const quiet = await recorded('wide_inc', wide)
      expect(quiet.details).toMatchObject({ scope: 'incremental', changed_rows: 0, keys: 0 })
    })
  })

  describe('coverage_gap', () => {
    it('looks up only changed source rows in the whole target', async () => {
      const first = await recorded('gap_inc', GAP)
      expect(first.details).toMatchObject({ scope: 'full', source_rows: 4, missing: 1 })

      await database().exec(
        'insert into inc.source values (5, now()), (6, now()); insert into inc.target values (5)',
      )
      const next = await recorded('gap_inc', GAP)
      // Sources 5 and 6, and 4 at the watermark (within the lookback).
      expect(next.details).toMatchObject({ scope: 'incremental', source_rows: 3, missing: 1 })
      expect(next.sample).toEqual([{ id: 6 }])
    })

    it('the same through a unique target key (one LEFT JOIN pass)', async () => {
      await database().exec(`
        create table inc.target_unique (source_id int unique);
        insert into inc.target_unique values (1), (2), (4), (5)`)
      const unique = { ...GAP, target: { table: 'inc.target_unique', key: 'source_id' } }
      const full = await measure('gap_unique_never_run', unique)
      expect(full.details).toMatchObject({ scope: 'full', source_rows: 6, missing: 2 })
      expect(full.sample).toHaveLength(2)
    })
  })

  describe('errors name the field', () => {
    it('a column that is not a timestamp or date', async () => {
      const error = await rejection(measure('bad_col', { ...STALE, incremental: { column: 'id' } }))
      expect(error.message).toContain('check field "incremental.column"')
      expect(error.message).toContain('timestamp or date')
    })

    it('a column that does not exist', async () => {
      const error = await rejection(
        measure('bad_col', { ...STALE, incremental: { column: 'nope' } }),
      )
      expect(error.message).toContain('check field "incremental.column"')
    })

    it('validation plans an incremental check without reading rows', async () => {
      // Any row this formula or key is computed on fails with a division by zero:
      // running proves the table has rows, validating that none was read.
      const poisoned = { ...STALE, formula: 'lower(name) || (1 / (length(name) - length(name)))' }
      const poisonedKey = { ...DUPLICATES, columns: ['lower(email) || (1 / (id - id))'] }
      for (const [name, input] of [
        ['stale_poisoned', poisoned],
        ['dup_poisoned', poisonedKey],
      ] as const) {
        await expect(validateCheck(database().db, spec({ name, ...input }), RUN)).resolves.toBe(
          undefined,
        )
        const ran = await rejection(measure(name, input))
        expect(ran.message).toContain('division by zero')
      }
      // ...while a field that does not resolve still fails validation, named.
      const bad = await rejection(
        validateCheck(database().db, spec({ name: 'bad', ...STALE, formula: 'lower(nope)' }), RUN),
      )
      expect(bad.message).toContain('check field "formula"')
    })
  })

  describe('index advice', () => {
    const advice = async (input: Record<string, unknown>) =>
      indexAdvice(database().db, spec({ name: 'advice', ...input }), RUN)

    it('nothing to add when the indexes are there', async () => {
      const m = await advice(DUPLICATES)
      expect(m.value).toBe(0)
      expect(m.details.indexes).toEqual([
        expect.objectContaining({ table: 'inc.people', columns: ['updated_at'], present: true }),
        expect.objectContaining({ table: 'inc.people', columns: ['lower(email)'], present: true }),
      ])
    })

    it('the CREATE INDEX for each missing one', async () => {
      const m = await advice({ ...STALE, table: 'inc.daily', incremental: { column: 'day' } })
      expect(m.value).toBe(1)
      expect(m.sample).toEqual(['create index concurrently on inc.daily (day);'])
      const gap = await advice({
        ...GAP,
        source: { table: 'inc.daily', key: 'id' },
        incremental: { column: 'day' },
      })
      expect(gap.details.indexes).toEqual([
        expect.objectContaining({ table: 'inc.daily', columns: ['day'], present: false }),
        expect.objectContaining({ table: 'inc.target', columns: ['source_id'], present: true }),
      ])
      expect(gap.sample).toEqual(['create index concurrently on inc.daily (day);'])
    })

    it('each field is checked and named before any of it reaches SQL', async () => {
      const column = await rejection(advice({ ...DUPLICATES, columns: ['lower(email)', 'nope'] }))
      expect(column.message).toContain('check field "columns[1]"')
      const target = await rejection(advice({ ...GAP, target: { table: 'inc.nope', key: 'id' } }))
      expect(target.message).toContain('check field "target.table"')
      const count = async () =>
        (await database().query<{ n: number }>('select count(*)::int as n from inc.people'))[0]?.n
      const before = await count()
      // Past the catalog's own checks (a caller of the SQL function itself), outside
      // any read-only transaction: the function still refuses a second statement.
      const injected = await rejection(
        database().db.call('index_advice', {
          spec: {
            ...DUPLICATES,
            name: 'advice',
            columns: ['email) from inc.people; delete from inc.people; select (1'],
          },
        }),
      )
      expect(injected.message).toContain('check field "columns[0]"')
      expect(await count()).toBe(before)
    })

    it('a check without incremental needs none', async () => {
      const m = await advice({ kind: 'duplicates', table: 'inc.people', columns: ['email'] })
      expect(m).toEqual({ value: 0, details: { indexes: [] }, sample: [] })
    })
  })

  if (engine === 'postgres') {
    it('dq validate --db warns with the CREATE INDEX to add', async () => {
      const db: TestDatabase = database()
      const dir = await mkdtemp(join(tmpdir(), 'dq-incremental-'))
      try {
        const catalog = join(dir, 'catalog.json')
        await writeFile(
          catalog,
          JSON.stringify({
            checks: [
              { name: 'daily_stale', ...STALE, table: 'inc.daily', incremental: { column: 'day' } },
              { name: 'people_dups', ...DUPLICATES },
            ],
          }),
        )
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ['bin/dq.js', 'validate', '--catalog', catalog, '--db', db.url as string],
          { env: { ...process.env, DQ_DATABASE_URL: '', NO_COLOR: '1' } },
        )
        expect(stdout).toContain(
          'warning: daily_stale: incremental runs need an index on inc.daily (day)',
        )
        expect(stdout).toContain('create index concurrently on inc.daily (day);')
        expect(stdout).not.toContain('people_dups')
        expect(stdout).toContain('all 2 checks resolve')
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})
