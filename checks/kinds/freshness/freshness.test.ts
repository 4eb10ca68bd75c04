// freshness: both forms of dq.kind_freshness, on PGlite and real PostgreSQL,
// and the kind's verdict on an empty table.

import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../../checks/catalog.ts'
import { runCheck } from '../../../checks/run-checks.ts'
import { measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'
import { freshness } from './index.ts'

// Times are relative to now(), the fixture's one instant.
const FIXTURE = `
create schema fr;

-- Table form: newest row 30 hours old (ids 1..3), one row with a NULL time.
create table fr.events (id int primary key, kind text, at timestamptz, at_local timestamp, day date, n int);
insert into fr.events values
  (1, 'a', now() - interval '30 hours', (now() - interval '30 hours')::timestamp, (now() - interval '30 hours')::date, 1),
  (2, 'b', now() - interval '50 hours', (now() - interval '50 hours')::timestamp, (now() - interval '50 hours')::date, 2),
  (3, 'b', now() - interval '80 hours', (now() - interval '80 hours')::timestamp, (now() - interval '80 hours')::date, 3),
  (4, 'c', null, null, null, 4);
create index events_at on fr.events (at);

create table fr.empty (id int, at timestamptz);
create view fr.events_v as select id, at from fr.events where kind = 'b';

create table fr.parted (id int, region text, at timestamptz) partition by list (region);
create table fr.parted_eu partition of fr.parted for values in ('eu');
create table fr.parted_us partition of fr.parted for values in ('us');
insert into fr.parted values (1, 'eu', now() - interval '10 hours'), (2, 'us', now() - interval '5 hours');

create schema "Sales";
create table "Sales"."Lead Events" ("Lead Id" int, "Seen At" timestamptz);
insert into "Sales"."Lead Events" values (1, now() - interval '2 hours');

-- Pairwise form. Payloads (source) against the rows they should have moved (target):
--   k1 target moved after its payload       -> fine
--   k2 target older than its payload         -> behind (lag 3 h)
--   k3 no target row                          -> missing_target
--   k4 target time NULL (never stamped)       -> behind
--   k5 payload 5 minutes old, target older    -> in flight with a grace of 15 minutes
--   k6 payload time NULL                      -> not counted
--   k7 two target rows, the newest after it   -> fine (the newest counts)
--   NULL key                                  -> missing_target
create table fr.payloads (id int primary key, k text, received_at timestamptz, src text);
insert into fr.payloads values
  (1, 'k1', now() - interval '1 hour', 'api'),
  (2, 'k2', now() - interval '1 hour', 'api'),
  (3, 'k3', now() - interval '1 hour', 'api'),
  (4, 'k4', now() - interval '1 hour', 'file'),
  (5, 'k5', now() - interval '5 minutes', 'api'),
  (6, 'k6', null, 'api'),
  (7, 'k7', now() - interval '1 hour', 'api'),
  (8, null, now() - interval '1 hour', 'api');
create table fr.companies (k text, updated_at timestamptz, live boolean);
insert into fr.companies values
  ('k1', now() - interval '30 minutes', true),
  ('k2', now() - interval '4 hours', true),
  ('k4', null, true),
  ('k5', now() - interval '2 hours', true),
  ('k6', now() - interval '2 hours', true),
  ('k7', now() - interval '3 hours', true),
  ('k7', now() - interval '10 minutes', false);
-- The same target with a unique key (k7's stale row only): the one-join plan.
create table fr.companies_unique (k text primary key, updated_at timestamptz);
insert into fr.companies_unique select k, updated_at from fr.companies where live;

-- Composite keys: a NULL field never matches, though the target holds an equal row.
create table fr.pair_src (a int, b int, at timestamptz);
insert into fr.pair_src values (1, 1, now() - interval '1 hour'), (2, null, now() - interval '1 hour');
create table fr.pair_tgt (a int, b int, at timestamptz);
insert into fr.pair_tgt values (1, 1, now() - interval '2 hours'), (2, null, now());

-- Dates and plain timestamps compare as instants.
create table fr.daily (k text, day date);
insert into fr.daily values ('k1', current_date + 1), ('k2', current_date - 1);
`

describe('the freshness schema', () => {
  const refusal = (input: Record<string, unknown>) => {
    try {
      spec({ kind: 'freshness', ...input })
    } catch (error) {
      return String(error)
    }
    throw new Error('accepted')
  }
  const pair = {
    source: { table: 'fr.payloads', key: 'k', time: 'received_at' },
    target: { table: 'fr.companies', key: 'k', time: 'updated_at' },
  }
  const hours = { threshold: { warn: 24, fail: 48 } }

  it('accepts either form', () => {
    expect(spec({ kind: 'freshness', table: 'fr.events', column: 'at', ...hours })).toMatchObject({
      table: 'fr.events',
    })
    expect(spec({ kind: 'freshness', ...pair, grace: '15 minutes' })).toMatchObject({
      grace: '15 minutes',
    })
  })

  it('refuses both forms at once, and neither', () => {
    expect(refusal({ table: 'fr.events', column: 'at', ...hours, ...pair })).toContain(
      'source: give "table" and "column" (how old the newest row is), or "source" and "target" (source rows whose target row is older), not both',
    )
    expect(refusal({})).toContain('table: is required: give "table" and "column"')
  })

  it('refuses a half-given form', () => {
    expect(refusal({ table: 'fr.events', ...hours })).toContain('column: is required')
    expect(refusal({ column: 'at', ...hours })).toContain('table: is required with "column"')
    expect(refusal({ source: pair.source })).toContain('target: is required with "source"')
    expect(refusal({ target: pair.target })).toContain('source: is required with "target"')
    expect(refusal({ ...pair, source: { table: 'fr.payloads', key: 'k' } })).toContain(
      'source.time: must be a string',
    )
  })

  it('keeps each field to its form', () => {
    expect(refusal({ table: 'fr.events', column: 'at', ...hours, grace: '1 hour' })).toContain(
      'grace: is for the pairwise form',
    )
    expect(refusal({ ...pair, where: 'true' })).toContain('where: is for the table form')
  })

  it('the table form needs a threshold in hours', () => {
    expect(refusal({ table: 'fr.events', column: 'at' })).toContain(
      'threshold: is required: the value is the hours since the newest row',
    )
    expect(
      refusal({ table: 'fr.events', column: 'at', threshold: { fail: 0.5, metric: 'ratio' } }),
    ).toContain('threshold.metric: must be "count"')
  })

  it('refuses hostile SQL text', () => {
    expect(refusal({ table: 'fr.events; drop table fr.events', column: 'at', ...hours })).toContain(
      'table: must be a single SQL expression',
    )
    expect(refusal({ ...pair, target: { ...pair.target, time: 'updated_at /* x */' } })).toContain(
      'target.time: must not contain SQL comments',
    )
  })

  it('says what a result means, in either form', () => {
    expect(freshness.figure({ newest: '2026-11-28T09:16:00.123+00:00', age_hours: 72 })).toBe(
      'newest row 72.0 h old (2026-11-28T09:16:00+00:00)',
    )
    expect(freshness.figure({ newest: null, age_hours: null, reason: 'no_rows' })).toBe(
      'no rows: nothing was ever written (newest is null)',
    )
    expect(
      freshness.figure({
        source_rows: 200,
        behind: 148,
        missing_target: 0,
        ratio: 0.74,
        max_lag_seconds: 430200,
      }),
    ).toBe(
      '148 of 200 source rows behind their target row (74.0%), max lag 119.5 h; 0 without a target row',
    )
  })

  it('its verdict: fail when there is no row, else the threshold decides', () => {
    const noRows = {
      value: null,
      details: { newest: null, age_hours: null, reason: 'no_rows' as const },
    }
    expect(freshness.verdict?.(noRows)).toBe('fail')
    expect(freshness.verdict?.({ value: 3, details: { newest: 'x', age_hours: 3 } })).toBe(
      undefined,
    )
  })
})

describe.each(engines())('freshness on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'freshness', ...input }), RUN)
  const table = (input: Record<string, unknown>) =>
    run({ threshold: { warn: 24, fail: 48 }, ...input })
  const source = (extra: Record<string, unknown> = {}) => ({
    table: 'fr.payloads',
    key: 'k',
    time: 'received_at',
    ...extra,
  })
  const target = (extra: Record<string, unknown> = {}) => ({
    table: 'fr.companies',
    key: 'k',
    time: 'updated_at',
    ...extra,
  })

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  describe('table form', () => {
    it('hours since the newest value, one decimal; NULL times are ignored', async () => {
      const m = await table({ table: 'fr.events', column: 'at' })
      expect(m.value).toBeGreaterThanOrEqual(30)
      expect(m.value).toBeLessThan(30.1)
      expect(m.details).toEqual({ newest: expect.any(String), age_hours: m.value })
      expect(new Date(m.details.newest as string).getTime()).toBeLessThan(Date.now())
      expect(m.sample).toEqual([])
    })

    it('where narrows the rows', async () => {
      const m = await table({ table: 'fr.events', column: 'at', where: "kind = 'b'" })
      expect(m.details.age_hours).toBeGreaterThanOrEqual(50)
      expect(m.details.age_hours).toBeLessThan(50.1)
    })

    it('a timestamp without time zone and a date work too', async () => {
      const local = await table({ table: 'fr.events', column: 'at_local' })
      expect(local.value).toBeGreaterThanOrEqual(30)
      expect(local.value).toBeLessThan(30.1)
      const day = await table({ table: 'fr.events', column: 'day' })
      // Midnight of the day 30 hours ago: between 30 and 54 hours.
      expect(day.value).toBeGreaterThanOrEqual(30)
      expect(day.value).toBeLessThanOrEqual(54)
    })

    it('a view, a partitioned table and quoted names', async () => {
      const view = await table({ table: 'fr.events_v', column: 'at' })
      expect(view.value).toBeGreaterThanOrEqual(50)
      expect(view.value).toBeLessThan(50.1)
      const parted = await table({ table: 'fr.parted', column: 'at' })
      expect(parted.value).toBeGreaterThanOrEqual(5)
      expect(parted.value).toBeLessThan(5.1)
      const quoted = await table({ table: '"Sales"."Lead Events"', column: '"Seen At"' })
      expect(quoted.value).toBeGreaterThanOrEqual(2)
      expect(quoted.value).toBeLessThan(2.1)
    })

    it('no row at all: value null, newest null, reason no_rows', async () => {
      const m = await table({ table: 'fr.empty', column: 'at' })
      expect(m).toEqual({
        value: null,
        details: { newest: null, age_hours: null, reason: 'no_rows' },
        sample: [],
      })
      const none = await table({ table: 'fr.events', column: 'at', where: "kind = 'c'" })
      expect(none.details).toEqual({ newest: null, age_hours: null, reason: 'no_rows' })
    })

    it('through the runner: an empty table fails whatever the threshold; a fresh one passes', async () => {
      const [empty, fresh] = parseCatalog({
        checks: [
          {
            name: 'fr_empty',
            kind: 'freshness',
            table: 'fr.empty',
            column: 'at',
            threshold: { fail: 1000 },
          },
          {
            name: 'fr_fresh',
            kind: 'freshness',
            table: 'fr.parted',
            column: 'at',
            threshold: { warn: 24, fail: 48 },
          },
        ],
      }).checks
      if (!empty || !fresh) throw new Error('no checks')
      const emptyResult = await runCheck(database().db, empty)
      expect(emptyResult).toMatchObject({
        status: 'fail',
        value: null,
        error: null,
        details: { newest: null, reason: 'no_rows' },
      })
      expect(await runCheck(database().db, fresh)).toMatchObject({ status: 'pass' })
    })

    describe('errors name the field', () => {
      it('a column that is not a time', async () => {
        const error = await rejection(table({ table: 'fr.events', column: 'n' }))
        expect(error.message).toContain(
          'check field "column": n is integer; freshness needs a timestamptz, timestamp or date column',
        )
      })

      it('a table or column that does not exist', async () => {
        const missingTable = await rejection(table({ table: 'fr.nope', column: 'at' }))
        expect(missingTable.message).toContain('check field "table"')
        expect(missingTable.message).toContain('"fr.nope" does not exist')
        const missingColumn = await rejection(table({ table: 'fr.events', column: 'nope' }))
        expect(missingColumn.message).toContain(
          'check field "column": column "nope" does not exist',
        )
      })
    })
  })

  describe('pairwise form', () => {
    it('counts source rows whose target is older; reports those without a target', async () => {
      const m = await run({ source: source(), target: target(), grace: '15 minutes' })
      // Counted: k1 k2 k3 k4 k7 and the NULL key (k5 in flight, k6 no time).
      expect(m.value).toBe(2)
      expect(m.details).toEqual({
        source_rows: 6,
        behind: 2,
        missing_target: 2,
        ratio: 0.333333,
        max_lag_seconds: 10800,
      })
      const sample = m.sample as Record<string, unknown>[]
      expect(sample.map((s) => s.k).sort()).toEqual(['k2', 'k4'])
      const k2 = sample.find((s) => s.k === 'k2')
      expect(k2).toEqual({
        k: 'k2',
        source_time: expect.any(String),
        target_time: expect.any(String),
        lag_seconds: 10800,
      })
      expect(sample.find((s) => s.k === 'k4')).toMatchObject({
        target_time: null,
        lag_seconds: null,
      })
    })

    it('without grace, a young source row counts too', async () => {
      const m = await run({ source: source(), target: target() })
      expect(m.details).toMatchObject({ source_rows: 7, behind: 3, missing_target: 2 })
    })

    it('a unique target key gives the same figures (one join)', async () => {
      const m = await run({
        source: source(),
        target: target({ table: 'fr.companies_unique' }),
        grace: '15 minutes',
      })
      // k7's only row is the stale one here: behind.
      expect(m.details).toEqual({
        source_rows: 6,
        behind: 3,
        missing_target: 2,
        ratio: 0.5,
        max_lag_seconds: 10800,
      })
    })

    it('wheres on both sides', async () => {
      const m = await run({
        source: source({ where: "src = 'api'" }),
        target: target({ where: 'live' }),
        grace: '15 minutes',
      })
      // k1 fine, k2 behind, k3 missing, k7 behind (its live row is the old one), NULL key missing.
      expect(m.details).toMatchObject({ source_rows: 5, behind: 2, missing_target: 2 })
    })

    it('dates against timestamps', async () => {
      const m = await run({
        source: source(),
        target: { table: 'fr.daily', key: 'k', time: 'day' },
      })
      // k1's day is tomorrow (after its payload); k2's is yesterday.
      expect(m.details).toMatchObject({ source_rows: 7, behind: 1, missing_target: 5 })
    })

    it('a composite key with a NULL field never matches: no target row', async () => {
      const m = await run({
        source: { table: 'fr.pair_src', key: 'row(a, b)', time: 'at' },
        target: { table: 'fr.pair_tgt', key: 'row(a, b)', time: 'at' },
      })
      expect(m.details).toMatchObject({ source_rows: 2, behind: 1, missing_target: 1 })
    })

    it('an empty source: ratio 0, no lag', async () => {
      const m = await run({
        source: { table: 'fr.empty', key: 'id', time: 'at' },
        target: { table: 'fr.events', key: 'id', time: 'at' },
      })
      expect(m).toEqual({
        value: 0,
        details: { source_rows: 0, behind: 0, missing_target: 0, ratio: 0, max_lag_seconds: null },
        sample: [],
      })
    })

    it('a view and a partitioned table', async () => {
      const m = await run({
        source: { table: 'fr.parted', key: 'id', time: 'at' },
        target: { table: 'fr.events_v', key: 'id', time: 'at' },
      })
      // parted 1 (10 h) vs events 1 (kind a: not in the view) -> missing; parted 2 (5 h) vs events 2 (50 h) -> behind
      expect(m.details).toMatchObject({ source_rows: 2, behind: 1, missing_target: 1 })
    })

    describe('errors name the field', () => {
      it('tables, keys and times that do not exist', async () => {
        const cases: [Record<string, unknown>, string][] = [
          [
            { source: source({ table: 'fr.nope' }), target: target() },
            'check field "source.table"',
          ],
          [
            { source: source(), target: target({ table: 'fr.nope' }) },
            'check field "target.table"',
          ],
          [{ source: source({ key: 'nope' }), target: target() }, 'check field "source.key"'],
          [{ source: source(), target: target({ key: 'nope' }) }, 'check field "target.key"'],
          [{ source: source({ time: 'nope' }), target: target() }, 'check field "source.time"'],
          [{ source: source(), target: target({ time: 'nope' }) }, 'check field "target.time"'],
          [{ source: source({ where: 'nope' }), target: target() }, 'check field "source.where"'],
        ]
        for (const [input, field] of cases) {
          expect((await rejection(run(input))).message).toContain(field)
        }
      })

      it('a time that is not a time', async () => {
        const error = await rejection(run({ source: source({ time: 'src' }), target: target() }))
        expect(error.message).toContain(
          'check field "source.time": src is text; freshness needs a timestamptz, timestamp or date column',
        )
      })

      it('hostile specs that bypass the catalog are refused by the database', async () => {
        const bypass = (input: Record<string, unknown>) =>
          rejection(measureCheck(database().db, { name: 'x', kind: 'freshness', ...input }, RUN))
        expect((await bypass({})).message).toContain('check field "table" is required')
        expect(
          (await bypass({ table: 'fr.events', column: 'at', source: source(), target: target() }))
            .message,
        ).toContain('do not go together')
        expect(
          (await bypass({ table: 'fr.events', column: 'at; delete from fr.events' })).message,
        ).toContain('check field "column" must be a single SQL expression')
        expect(
          (await bypass({ source: source(), target: target({ time: 'updated_at -- x' }) })).message,
        ).toContain('check field "target.time" must be a single SQL expression')
        expect(
          (await bypass({ source: source(), target: target(), grace: 'soon' })).message,
        ).toContain('check field "grace"')
        const rows = await database().query<{ n: number }>(
          'select count(*)::int as n from fr.events',
        )
        expect(rows[0]?.n).toBe(4)
      })
    })
  })
})
