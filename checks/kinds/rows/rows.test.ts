// rows: edge cases of dq.kind_rows, on PGlite and real PostgreSQL, and the
// peers' checks it translates (README "rows").

import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../../checks/catalog.ts'
import { runChecks } from '../../../checks/run-checks.ts'
import { indexAdvice, measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

const FIXTURE = `
create schema rw;

-- Runs: 2 and 5 stuck (running for hours), 3 running but young, 6 status NULL.
create table rw.runs (id int primary key, status text, started_at timestamptz, price numeric, country text,
                      updated_at timestamptz not null default now() - interval '3 days');
insert into rw.runs values
  (1, 'completed', now() - interval '9 hours', 10, 'DE'),
  (2, 'running', now() - interval '8 hours', -1, 'US'),
  (3, 'running', now() - interval '10 minutes', 5, 'XX'),
  (4, 'failed', now() - interval '7 hours', 0, 'FR'),
  (5, 'running', now() - interval '30 hours', 200, null),
  (6, null, now() - interval '30 hours', null, 'DE');
update rw.runs set updated_at = now() - interval '2 days' where id = 6;

create view rw.running as select id as run_id, started_at from rw.runs where status = 'running';
create table rw.empty (id int, status text);

create table rw.parted (id int, region text, ok boolean) partition by list (region);
create table rw.parted_eu partition of rw.parted for values in ('eu');
create table rw.parted_us partition of rw.parted for values in ('us');
insert into rw.parted values (1, 'eu', true), (2, 'eu', false), (3, 'us', false);

create schema "Ops";
create table "Ops"."Run Log" ("Run Id" int, "State" text);
insert into "Ops"."Run Log" values (1, 'OK'), (2, 'Stuck');
`

const STUCK = "status = 'running' and started_at < now() - interval '6 hours'"

describe('the rows schema', () => {
  const refusal = (input: Record<string, unknown>) => {
    try {
      spec({ kind: 'rows', table: 'rw.runs', where: 'true', ...input })
    } catch (error) {
      return String(error)
    }
    throw new Error('accepted')
  }

  it('needs where, and refuses hostile SQL text', () => {
    expect(refusal({ where: undefined })).toContain('where: must be a string')
    expect(refusal({ where: "status = 'x'; delete from rw.runs" })).toContain(
      'where: must be a single SQL expression',
    )
    expect(refusal({ scope: 'true -- x' })).toContain('scope: must not contain SQL comments')
    expect(refusal({ table: '' })).toContain('table: must not be empty')
  })
})

describe.each(engines())('rows on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'rows', ...input }), RUN)
  const ids = (sample: unknown[], label = 'id') =>
    (sample as Record<string, number>[]).map((s) => s[label]).sort((a, b) => (a ?? 0) - (b ?? 0))

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('counts the rows matching where; a NULL predicate does not match', async () => {
    const m = await run({ table: 'rw.runs', where: STUCK })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({ rows: 6, matching: 2, ratio: 0.333333 })
    expect(ids(m.sample)).toEqual([2, 5])
  })

  it('scope narrows the rows considered', async () => {
    const m = await run({ table: 'rw.runs', where: STUCK, scope: "country = 'US'" })
    expect(m.details).toEqual({ rows: 1, matching: 1, ratio: 1 })
  })

  it('an empty table and a where matching nothing: ratio 0, no sample', async () => {
    expect(await run({ table: 'rw.empty', where: "status = 'running'" })).toEqual({
      value: 0,
      details: { rows: 0, matching: 0, ratio: 0 },
      sample: [],
    })
    const none = await run({ table: 'rw.runs', where: 'false' })
    expect(none).toEqual({ value: 0, details: { rows: 6, matching: 0, ratio: 0 }, sample: [] })
  })

  it('a view (with its own id), a partitioned table, quoted names', async () => {
    const view = await run({
      table: 'rw.running',
      where: "started_at < now() - interval '6 hours'",
      id: 'run_id',
    })
    expect(view.details).toEqual({ rows: 3, matching: 2, ratio: 0.666667 })
    expect(ids(view.sample, 'run_id')).toEqual([2, 5])
    const parted = await run({ table: 'rw.parted', where: 'not ok' })
    expect(parted.details).toEqual({ rows: 3, matching: 2, ratio: 0.666667 })
    const quoted = await run({
      table: '"Ops"."Run Log"',
      where: `"State" = 'Stuck'`,
      id: '"Run Id"',
    })
    expect(quoted.sample).toEqual([{ 'Run Id': 2 }])
  })

  it('at most 5 sampled ids', async () => {
    const m = await run({ table: 'rw.runs', where: 'true' })
    expect(m.details.matching).toBe(6)
    expect(m.sample).toHaveLength(5)
  })

  describe("the peers' checks, translated (README)", () => {
    it('dbt-utils expression_is_true: where = not (expression)', async () => {
      // expression_is_true "price >= 0": rows where it is false; NULL is not a failure there either.
      const m = await run({ table: 'rw.runs', where: 'not (price >= 0)' })
      expect(m.details.matching).toBe(1)
    })

    it('dbt-utils accepted_range (min 0, max 100, inclusive)', async () => {
      const m = await run({ table: 'rw.runs', where: 'not (price >= 0 and price <= 100)' })
      expect(ids(m.sample)).toEqual([2, 5])
    })

    it('dbt not_accepted_values / Soda invalid values', async () => {
      const m = await run({ table: 'rw.runs', where: "country in ('XX', 'ZZ')" })
      expect(ids(m.sample)).toEqual([3])
    })
  })

  it('incremental: the first run is full, the next counts only rows changed since', async () => {
    const checks = parseCatalog({
      checks: [
        {
          name: 'rw_incremental',
          kind: 'rows',
          table: 'rw.runs',
          where: 'status is null',
          incremental: { column: 'updated_at' },
        },
      ],
    }).checks
    const first = await runChecks(database().db, checks, { trigger: 'cli' })
    expect(first.results[0]?.details).toMatchObject({ scope: 'full', rows: 6, matching: 1 })
    await database().exec(
      `insert into rw.runs (id, status, updated_at) values (7, null, now()), (8, 'completed', now())`,
    )
    const second = await runChecks(database().db, checks, { trigger: 'cli' })
    // Rows 6 (the watermark's, within the lookback), 7 and 8.
    expect(second.results[0]?.details).toMatchObject({ scope: 'incremental', rows: 3, matching: 2 })
    expect(ids(second.results[0]?.sample ?? [])).toEqual([6, 7])
    await database().exec('delete from rw.runs where id in (7, 8)')
    const [check] = checks
    if (!check) throw new Error('no check')
    const advice = await indexAdvice(database().db, check, RUN)
    expect(advice.sample).toEqual(['create index concurrently on rw.runs (updated_at);'])
  })

  describe('errors name the field', () => {
    it('a table, a column in where or scope, an id that does not exist', async () => {
      const table = await rejection(run({ table: 'rw.nope', where: 'true' }))
      expect(table.message).toContain('check field "table"')
      expect(table.message).toContain('"rw.nope" does not exist')
      const where = await rejection(run({ table: 'rw.runs', where: "state = 'x'" }))
      expect(where.message).toContain('check field "where": column "state" does not exist')
      const scope = await rejection(run({ table: 'rw.runs', where: 'true', scope: 'nope' }))
      expect(scope.message).toContain('check field "scope": column "nope" does not exist')
      const id = await rejection(run({ table: 'rw.running', where: 'true' }))
      expect(id.message).toContain('check field "id": column "id" does not exist')
    })

    it('a where that is not a predicate', async () => {
      const error = await rejection(run({ table: 'rw.runs', where: 'price' }))
      expect(error.message).toContain('check field "where"')
      expect(error.message).toMatch(/boolean/)
    })

    it('hostile specs that bypass the catalog are refused by the database', async () => {
      const bypass = (input: Record<string, unknown>) =>
        rejection(measureCheck(database().db, { name: 'x', kind: 'rows', ...input }, RUN))
      expect((await bypass({ table: 'rw.runs' })).message).toContain(
        'check field "where" is required',
      )
      expect(
        (await bypass({ table: 'rw.runs', where: 'true) or (true; delete from rw.runs' })).message,
      ).toContain('check field "where" must be a single SQL expression')
      expect(
        (await bypass({ table: 'rw.runs', where: 'true', scope: 'true /* hidden */' })).message,
      ).toContain('check field "scope" must be a single SQL expression')
      const rows = await database().query<{ n: number }>('select count(*)::int as n from rw.runs')
      expect(rows[0]?.n).toBe(6)
    })
  })
})
