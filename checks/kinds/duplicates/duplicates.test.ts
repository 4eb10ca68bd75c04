// duplicates: edge cases of dq.check_duplicates, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

const FIXTURE = `
create schema dup;

-- A unique constraint lets any number of NULL keys through; GROUP BY groups them.
create table dup.nullable (id int primary key, email text unique);
insert into dup.nullable values (1, 'a@x.com'), (2, null), (3, null), (4, 'b@x.com');

-- Quoted mixed-case identifiers.
create schema "Sales";
create table "Sales"."Leads Raw" (id int, "Email" text);
insert into "Sales"."Leads Raw" values (1, 'x@a.com'), (2, 'x@a.com'), (3, 'y@b.com'), (4, 'x@a.com');

-- Keys that only collide once normalised.
create table dup.people (id int primary key, email text);
insert into dup.people values
  (1, 'A@x.com'), (2, ' a@x.com '), (3, 'a@x.com'), (4, 'b@x.com'), (5, 'B@X.COM '), (6, 'c@x.com');

-- Declared partitioning: duplicates across partitions; the primary key is on the parent.
create table dup.events (id int, region text, email text, primary key (id, region)) partition by list (region);
create table dup.events_eu partition of dup.events for values in ('eu');
create table dup.events_us partition of dup.events for values in ('us');
insert into dup.events values (1, 'eu', 'a'), (2, 'us', 'a'), (3, 'eu', 'b'), (4, 'us', 'c'), (5, 'us', 'c'), (1, 'us', 'd');

-- A view over a table whose unique constraint does not protect NULLs.
create view dup.nullable_v as select id, email from dup.nullable;

create table dup.empty (id int, k text);

-- Groups of 1..5 rows, for maxPerKey.
create table dup.sizes (id int primary key, k text);
insert into dup.sizes
  select row_number() over (), k from (
    select 'one' as k from generate_series(1, 1)
    union all select 'two' from generate_series(1, 2)
    union all select 'three' from generate_series(1, 3)
    union all select 'four' from generate_series(1, 4)
    union all select 'five' from generate_series(1, 5)) s;

-- Seven duplicated groups of 7, 6, 5, 4, 3, 2 and 2 rows, ids 1..29 in key order.
create table dup.many (id int primary key, k text);
insert into dup.many
  select row_number() over (order by g, n), 'g' || g
  from (values (1, 7), (2, 6), (3, 5), (4, 4), (5, 3), (6, 2), (7, 2)) sizes(g, size),
       generate_series(1, size) n;

-- Indexes of every sort, for unique_index.
create table dup.idx (id int, a text, b text, c text, d text, e text, f text, g text,
                      constraint idx_a_b unique (a, b));
create unique index idx_lower_c on dup.idx (lower(c));
create index idx_d on dup.idx (d);
create unique index idx_e_partial on dup.idx (e) where e is not null;
create unique index idx_f_btrim on dup.idx (lower(btrim(f)));
create unique index idx_g_trim on dup.idx (lower(trim(g)));

-- A materialized view can have a unique index.
create materialized view dup.people_mv as select id, email from dup.people;
create unique index people_mv_id on dup.people_mv (id);

-- Old-style inheritance: the parent's unique constraint does not cover its children.
create table dup.inh_parent (k int unique);
create table dup.inh_child () inherits (dup.inh_parent);
insert into dup.inh_parent values (1), (2);
insert into dup.inh_child values (1);
`

describe.each(engines())('duplicates on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'duplicates', ...input }), RUN)

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('groups NULL keys together, which a unique constraint lets through', async () => {
    const m = await run({ table: 'dup.nullable', columns: ['email'], id: 'id' })
    expect(m.value).toBe(1)
    expect(m.details).toEqual({
      rows: 4,
      keys: 3,
      groups: 1,
      extra_rows: 1,
      largest_group: 2,
      max_per_key: 1,
      unique_index: true,
    })
    expect(m.sample).toEqual([{ email: null, rows: 2, ids: [2, 3] }])
  })

  it('quoted mixed-case schema, table and column', async () => {
    const m = await run({ table: '"Sales"."Leads Raw"', columns: ['"Email"'], id: 'id' })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({
      rows: 4,
      keys: 2,
      groups: 1,
      extra_rows: 2,
      largest_group: 3,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.sample).toEqual([{ Email: 'x@a.com', rows: 3, ids: [1, 2, 4] }])
  })

  it('columns as SQL expressions', async () => {
    const m = await run({ table: 'dup.people', columns: ['lower(trim(email))'], id: 'id' })
    expect(m.value).toBe(3)
    expect(m.details).toEqual({
      rows: 6,
      keys: 3,
      groups: 2,
      extra_rows: 3,
      largest_group: 3,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.sample).toEqual([
      { 'lower(trim(email))': 'a@x.com', rows: 3, ids: [1, 2, 3] },
      { 'lower(trim(email))': 'b@x.com', rows: 2, ids: [4, 5] },
    ])
  })

  it('a where filter narrows the rows counted (and the ids sampled)', async () => {
    const m = await run({
      table: 'dup.people',
      columns: ['lower(trim(email))'],
      where: 'id > 1',
      id: 'id',
    })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({
      rows: 5,
      keys: 3,
      groups: 2,
      extra_rows: 2,
      largest_group: 2,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.sample).toEqual([
      { 'lower(trim(email))': 'a@x.com', rows: 2, ids: [2, 3] },
      { 'lower(trim(email))': 'b@x.com', rows: 2, ids: [4, 5] },
    ])
  })

  describe('a partitioned table', () => {
    it('counts duplicates across partitions', async () => {
      const m = await run({ table: 'dup.events', columns: ['email'] })
      expect(m.value).toBe(2)
      expect(m.details).toEqual({
        rows: 6,
        keys: 4,
        groups: 2,
        extra_rows: 2,
        largest_group: 2,
        max_per_key: 1,
        unique_index: false,
      })
      expect(m.sample).toEqual([
        { email: 'a', rows: 2 },
        { email: 'c', rows: 2 },
      ])
    })

    it("sees the parent's primary key as a unique index on its columns", async () => {
      const m = await run({ table: 'dup.events', columns: ['id', 'region'] })
      expect(m.value).toBe(0)
      expect(m.details).toMatchObject({ rows: 6, keys: 6, groups: 0, unique_index: true })
    })

    it("and a partition's own copy of that index", async () => {
      const m = await run({ table: 'dup.events_us', columns: ['region', 'id'] })
      expect(m.details).toMatchObject({ rows: 4, keys: 4, groups: 0, unique_index: true })
    })

    it('a column shared by partitions is not unique across them', async () => {
      const m = await run({ table: 'dup.events', columns: ['id'], id: 'region' })
      expect(m.value).toBe(1)
      expect(m.details).toMatchObject({ rows: 6, keys: 5, groups: 1, unique_index: false })
      expect(m.sample).toEqual([{ id: 1, rows: 2, ids: ['eu', 'us'] }])
    })
  })

  it('an inheritance parent: rows of its children count, its unique index does not cover them', async () => {
    const m = await run({ table: 'dup.inh_parent', columns: ['k'] })
    expect(m.value).toBe(1)
    expect(m.details).toMatchObject({ rows: 3, keys: 2, groups: 1, unique_index: false })
    expect(m.sample).toEqual([{ k: 1, rows: 2 }])
  })

  it('a view: counted like a table, never covered by a unique index', async () => {
    const m = await run({ table: 'dup.nullable_v', columns: ['email'], id: 'id' })
    expect(m.value).toBe(1)
    expect(m.details).toEqual({
      rows: 4,
      keys: 3,
      groups: 1,
      extra_rows: 1,
      largest_group: 2,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.sample).toEqual([{ email: null, rows: 2, ids: [2, 3] }])
  })

  it('an empty table: all zeros, no ratio', async () => {
    const m = await run({ table: 'dup.empty', columns: ['k'], id: 'id' })
    expect(m.value).toBe(0)
    expect(m.details).toEqual({
      rows: 0,
      keys: 0,
      groups: 0,
      extra_rows: 0,
      largest_group: 0,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.details).not.toHaveProperty('ratio')
    expect(m.sample).toEqual([])
  })

  it('maxPerKey 3: only groups over 3 count, each for n - 3 rows', async () => {
    const m = await run({ table: 'dup.sizes', columns: ['k'], maxPerKey: 3 })
    expect(m.value).toBe(3)
    expect(m.details).toEqual({
      rows: 15,
      keys: 5,
      groups: 2,
      extra_rows: 3,
      largest_group: 5,
      max_per_key: 3,
      unique_index: false,
    })
    expect(m.sample).toEqual([
      { k: 'five', rows: 5 },
      { k: 'four', rows: 4 },
    ])
  })

  it('maxPerKey at the largest group: nothing over the limit', async () => {
    const m = await run({ table: 'dup.sizes', columns: ['k'], maxPerKey: 5 })
    expect(m.value).toBe(0)
    expect(m.details).toMatchObject({ groups: 0, extra_rows: 0, largest_group: 5, max_per_key: 5 })
    expect(m.sample).toEqual([])
  })

  it('sample: at most 5 groups, largest first, each with at most 5 ids of its rows', async () => {
    const m = await run({ table: 'dup.many', columns: ['k'], id: 'id' })
    expect(m.value).toBe(6 + 5 + 4 + 3 + 2 + 1 + 1)
    expect(m.details).toEqual({
      rows: 29,
      keys: 7,
      groups: 7,
      extra_rows: 22,
      largest_group: 7,
      max_per_key: 1,
      unique_index: false,
    })
    expect(m.sample).toEqual([
      { k: 'g1', rows: 7, ids: [1, 2, 3, 4, 5] },
      { k: 'g2', rows: 6, ids: [8, 9, 10, 11, 12] },
      { k: 'g3', rows: 5, ids: [14, 15, 16, 17, 18] },
      { k: 'g4', rows: 4, ids: [19, 20, 21, 22] },
      { k: 'g5', rows: 3, ids: [23, 24, 25] },
    ])
  })

  it('without id, sample entries carry no ids', async () => {
    const m = await run({ table: 'dup.many', columns: ['k'], where: "k = 'g7'" })
    expect(m.sample).toEqual([{ k: 'g7', rows: 2 }])
  })

  describe('unique_index', () => {
    const uniqueIndex = async (columns: string[]) =>
      (await run({ table: 'dup.idx', columns })).details.unique_index

    it('true for a UNIQUE constraint on exactly these columns, in any order', async () => {
      expect(await uniqueIndex(['a', 'b'])).toBe(true)
      expect(await uniqueIndex(['b', 'a'])).toBe(true)
    })

    it('true for a unique expression index matching the expression', async () => {
      expect(await uniqueIndex(['lower(c)'])).toBe(true)
      expect(await uniqueIndex(['lower(trim(g))'])).toBe(true)
    })

    it('true whether the expression is spelled trim() or btrim()', async () => {
      expect(await uniqueIndex(['lower(trim(f))'])).toBe(true)
      expect(await uniqueIndex(['lower(btrim(g))'])).toBe(true)
    })

    it('true for a unique index on a materialized view', async () => {
      const m = await run({ table: 'dup.people_mv', columns: ['id'] })
      expect(m.details).toMatchObject({ rows: 6, keys: 6, groups: 0, unique_index: true })
    })

    it('false for a different expression on the same column', async () => {
      expect(await uniqueIndex(['c'])).toBe(false)
      expect(await uniqueIndex(['upper(c)'])).toBe(false)
    })

    it('false for a non-unique index', async () => {
      expect(await uniqueIndex(['d'])).toBe(false)
    })

    it('false for a partial unique index', async () => {
      expect(await uniqueIndex(['e'])).toBe(false)
    })

    it('false when the columns are a subset of the unique ones', async () => {
      expect(await uniqueIndex(['a'])).toBe(false)
      expect(await uniqueIndex(['b'])).toBe(false)
    })

    it('false when the columns are a superset of the unique ones', async () => {
      expect(await uniqueIndex(['a', 'b', 'd'])).toBe(false)
    })
  })

  describe('errors name the field', () => {
    it('a table that does not exist', async () => {
      const error = await rejection(run({ table: 'dup.nope', columns: ['a'] }))
      expect(error.message).toContain('check field "table"')
      expect(error.message).toContain('"dup.nope" does not exist')
    })

    it('a schema that does not exist', async () => {
      const error = await rejection(run({ table: 'nope.t', columns: ['a'] }))
      expect(error.message).toContain('check field "table"')
      expect(error.message).toContain('schema "nope" does not exist')
      expect(error.code).toBe('database')
    })

    it('a column that does not exist', async () => {
      const error = await rejection(run({ table: 'dup.people', columns: ['email', 'nope'] }))
      expect(error.message).toContain('check field "columns[1]"')
      expect(error.message).toContain('column "nope" does not exist')
    })

    it('an unquoted mixed-case column (folded to lower case)', async () => {
      const error = await rejection(run({ table: '"Sales"."Leads Raw"', columns: ['Email'] }))
      expect(error.message).toContain('check field "columns[0]"')
      expect(error.message).toContain('column "email" does not exist')
    })

    it('a where on a column that does not exist', async () => {
      const error = await rejection(
        run({ table: 'dup.people', columns: ['email'], where: 'nope > 1' }),
      )
      expect(error.message).toContain('check field "where"')
    })

    it('an id column that does not exist', async () => {
      const error = await rejection(run({ table: 'dup.people', columns: ['email'], id: 'nope' }))
      expect(error.message).toContain('check field "id"')
    })
  })
})
