// coverage_gap: edge cases of dq.check_coverage_gap, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { keyFigure } from '../../../checks/result.ts'
import { measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

const FIXTURE = `
create schema cg;

-- Source ids 1..10 (kind 'a' for 1..6, 'b' for 7..10) and one NULL id.
create table cg.src (id int, kind text);
insert into cg.src select n, case when n <= 6 then 'a' else 'b' end from generate_series(1, 10) n;
insert into cg.src values (null, 'a');

-- The target has columns of the same names (id, kind) that mean something else.
-- No target row has src_id = id, so a source key bound to the target's id matches nothing.
create table cg.tgt (id int, src_id int, kind text);
insert into cg.tgt values
  (101, 1, 'live'), (102, 2, 'live'), (103, 3, 'dead'), (104, 4, 'live'), (105, 4, 'live'),
  (106, 7, 'live'), (5, 99, 'live'), (108, null, 'live');

create view cg.src_a as select id, kind from cg.src where kind = 'a';

create table cg.empty_src (id int);
create table cg.empty_tgt (src_id int);

-- Expression keys over a column named alike on both sides, the target indexed on it.
create table cg.codes_src (code text);
insert into cg.codes_src values ('A'), ('B'), ('C'), (null);
create table cg.codes_tgt (code text);
create unique index codes_tgt_lower_code on cg.codes_tgt (lower(code));
insert into cg.codes_tgt values ('a'), ('b'), ('z');

-- 10 000 source rows; the indexed target lacks the 10 multiples of 1000.
create table cg.big_src (id int primary key);
insert into cg.big_src select generate_series(1, 10000);
create table cg.big_tgt (src_id int primary key);
insert into cg.big_tgt select n from generate_series(1, 10000) n where n % 1000 <> 0;
analyze cg.big_src;
analyze cg.big_tgt;

-- Composite keys with NULL fields: none of them may match, on either side.
create table cg.pair_src (a int, b int);
insert into cg.pair_src values (6, null), (null, 7), (null, null), (1, 1), (2, 2);
create table cg.pair_tgt (a int, b int);
insert into cg.pair_tgt values (6, null), (null, 7), (null, null), (1, 1);
create type cg.pair as (a int, b int);
create table cg.pair_tgt_unique (a int, b int);
create unique index pair_tgt_unique_ab on cg.pair_tgt_unique ((row(a, b)::cg.pair));
create unique index pair_tgt_unique_array on cg.pair_tgt_unique ((array[a, b]));
insert into cg.pair_tgt_unique values (6, null), (null, 7), (1, 1);
`

type Keyed = Record<string, unknown>
const keys = (sample: unknown[], label: string) =>
  (sample as Keyed[]).map((entry) => entry[label] as number | null).sort(nullsLast)
const nullsLast = (a: number | null, b: number | null) =>
  a === null ? (b === null ? 0 : 1) : b === null ? -1 : a - b

describe.each(engines())('coverage_gap on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'coverage_gap', ...input }), RUN)
  const src = (extra: Keyed = {}) => ({ table: 'cg.src', key: 'id', ...extra })
  const tgt = (extra: Keyed = {}) => ({ table: 'cg.tgt', key: 'src_id', ...extra })

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('counts source rows with no target row; NULL source keys are missing', async () => {
    const m = await run({ source: src(), target: tgt() })
    expect(m.value).toBe(6)
    expect(m.details).toEqual({ source_rows: 11, missing: 6, ratio: 0.545455 })
    expect(m.sample).toHaveLength(5)
    const sampled = keys(m.sample, 'id')
    expect(new Set(sampled).size).toBe(5)
    for (const key of sampled) expect([5, 6, 8, 9, 10, null]).toContain(key)
  })

  it('a composite key with a NULL in any field never matches, like a NULL single key', async () => {
    // (6,NULL), (NULL,7), (NULL,NULL) are missing though the target holds equal rows; (2,2) is missing.
    // Every form of a key of several fields: an anonymous row(), a named composite type, an
    // array (PostgreSQL's = finds array[6, NULL] equal to itself too), one of two dimensions,
    // rows inside an array; behind a unique index (the LEFT JOIN plan) or not (NOT EXISTS).
    for (const [table, key] of [
      ['cg.pair_tgt', 'row(a, b)'],
      ['cg.pair_tgt_unique', 'row(a, b)::cg.pair'],
      ['cg.pair_tgt', 'array[a, b]'],
      ['cg.pair_tgt_unique', 'array[a, b]'],
      ['cg.pair_tgt', 'array[[a, b]]'],
      ['cg.pair_tgt', 'array[row(a, b)]'],
    ] as const) {
      const m = await run({ source: { table: 'cg.pair_src', key }, target: { table, key } })
      expect(m.details, `${key} in ${table}`).toEqual({ source_rows: 5, missing: 4, ratio: 0.8 })
    }
    const single = await run({
      source: { table: 'cg.pair_src', key: 'b' },
      target: { table: 'cg.pair_tgt', key: 'b' },
    })
    expect(single.details).toEqual({ source_rows: 5, missing: 3, ratio: 0.6 })
  })

  it("the source key binds to the source's column even when the target has one of that name", async () => {
    // key 'id' on both sides: source ids 1..10 against target ids 101.., 5, 108
    const m = await run({ source: src(), target: tgt({ key: 'id' }) })
    expect(m.details).toEqual({ source_rows: 11, missing: 10, ratio: 0.909091 })
  })

  it('a target where (on a column the source also has) narrows the matches', async () => {
    const m = await run({ source: src(), target: tgt({ where: "kind = 'live'" }) })
    expect(m.details).toEqual({ source_rows: 11, missing: 7, ratio: 0.636364 })
  })

  it('a source where (on a column the target also has) narrows the source rows', async () => {
    const m = await run({ source: src({ where: "kind = 'a'" }), target: tgt() })
    expect(m.value).toBe(3)
    expect(m.details).toEqual({ source_rows: 7, missing: 3, ratio: 0.428571 })
    expect(keys(m.sample, 'id')).toEqual([5, 6, null])
  })

  it('both wheres at once', async () => {
    const m = await run({
      source: src({ where: "kind = 'a'" }),
      target: tgt({ where: "kind = 'live'" }),
    })
    expect(m.details).toEqual({ source_rows: 7, missing: 4, ratio: 0.571429 })
    expect(keys(m.sample, 'id')).toEqual([3, 5, 6, null])
  })

  it('a view as the source', async () => {
    const m = await run({ source: { table: 'cg.src_a', key: 'id' }, target: tgt() })
    expect(m.details).toEqual({ source_rows: 7, missing: 3, ratio: 0.428571 })
    expect(keys(m.sample, 'id')).toEqual([5, 6, null])
  })

  it('an empty source: ratio 0, no division by zero', async () => {
    const m = await run({ source: { table: 'cg.empty_src', key: 'id' }, target: tgt() })
    expect(m).toEqual({ value: 0, details: { source_rows: 0, missing: 0, ratio: 0 }, sample: [] })
  })

  it('a source where that matches nothing: ratio 0', async () => {
    const m = await run({ source: src({ where: 'false' }), target: tgt() })
    expect(m.details).toEqual({ source_rows: 0, missing: 0, ratio: 0 })
  })

  it('an empty target: every source row is missing', async () => {
    const m = await run({ source: src(), target: { table: 'cg.empty_tgt', key: 'src_id' } })
    expect(m.details).toEqual({ source_rows: 11, missing: 11, ratio: 1 })
  })

  it('expression keys on a same-named column, the target indexed on the expression', async () => {
    const m = await run({
      source: { table: 'cg.codes_src', key: 'lower(code)' },
      target: { table: 'cg.codes_tgt', key: 'lower(code)' },
    })
    expect(m.details).toEqual({ source_rows: 4, missing: 2, ratio: 0.5 })
    expect(
      (m.sample as Keyed[])
        .map((e) => e['lower(code)'])
        .sort((a, b) => (a === null ? 1 : b === null ? -1 : 0)),
    ).toEqual(['c', null])
  })

  it('a large target with a primary key on the key: exact count, 5 sampled keys', async () => {
    const m = await run({
      source: { table: 'cg.big_src', key: 'id' },
      target: { table: 'cg.big_tgt', key: 'src_id' },
    })
    expect(m.value).toBe(10)
    expect(m.details).toEqual({ source_rows: 10000, missing: 10, ratio: 0.001 })
    expect(m.sample).toHaveLength(5)
    for (const key of keys(m.sample, 'id')) expect((key as number) % 1000).toBe(0)
  })

  describe('errors name the field', () => {
    it('a source table that does not exist', async () => {
      const error = await rejection(run({ source: src({ table: 'cg.nope' }), target: tgt() }))
      expect(error.message).toContain('check field "source.table"')
      expect(error.message).toContain('"cg.nope" does not exist')
    })

    it('a target table that does not exist', async () => {
      const error = await rejection(run({ source: src(), target: tgt({ table: 'cg.nope' }) }))
      expect(error.message).toContain('check field "target.table"')
      expect(error.message).toContain('"cg.nope" does not exist')
    })

    it('a source key column that does not exist', async () => {
      const error = await rejection(run({ source: src({ key: 'src_id' }), target: tgt() }))
      expect(error.message).toContain('check field "source.key"')
      expect(error.message).toContain('column "src_id" does not exist')
    })

    it('a target key column that does not exist', async () => {
      const error = await rejection(run({ source: src(), target: tgt({ key: 'nope' }) }))
      expect(error.message).toContain('check field "target.key"')
      expect(error.message).toContain('column "nope" does not exist')
    })

    it('wheres on columns that do not exist', async () => {
      const source = await rejection(run({ source: src({ where: 'src_id > 0' }), target: tgt() }))
      expect(source.message).toContain('check field "source.where"')
      const target = await rejection(run({ source: src(), target: tgt({ where: 'nope' }) }))
      expect(target.message).toContain('check field "target.where"')
    })

    it('keys of types that do not compare: an error, not a silent count', async () => {
      const error = await rejection(run({ source: src(), target: tgt({ key: 'kind' }) }))
      expect(error.message).toMatch(/operator does not exist: text = integer/)
    })
  })
})

describe('coverage_gap key figure', () => {
  const figure = (missing: number, sample: unknown[]) =>
    keyFigure({
      kind: 'coverage_gap',
      status: 'fail',
      error: null,
      details: { source_rows: 13, missing, ratio: missing / 13 },
      sample,
    })

  it('names every missing key, sorted, when the sample holds them all', () => {
    expect(figure(3, [{ t: 'x.b' }, { t: 'x.a' }, { t: null }])).toBe(
      '3 of 13 source rows missing (23.1%): NULL, x.a, x.b',
    )
  })

  it('only a count when the sample holds some of them, or keys of several fields', () => {
    expect(figure(6, [{ t: 'a' }, { t: 'b' }, { t: 'c' }, { t: 'd' }, { t: 'e' }])).toBe(
      '6 of 13 source rows missing (46.2%)',
    )
    expect(figure(1, [{ a: 1, b: 2 }])).toBe('1 of 13 source rows missing (7.7%)')
    expect(figure(0, [])).toBe('0 of 13 source rows missing (0.0%)')
  })
})
