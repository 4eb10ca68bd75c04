// stale_keys: edge cases of dq.check_stale_keys, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

// The formula: lower(name) when there is a name, else NULL.
const FORMULA = 'case when name is not null then lower(name) end'

const FIXTURE = `
create schema sk;

create table sk.items (id int primary key, ref text not null, name text, key text);
insert into sk.items values
  (1, 'r1', 'Ant', 'ant'),     -- ok
  (2, 'r2', 'Bee', 'wrong'),   -- mismatched
  (3, 'r3', null, 'cat'),      -- unexpected: stored set, formula NULL
  (4, 'r4', null, null),       -- ok: both NULL
  (5, 'r5', 'Dog', null),      -- missing: stored NULL, formula set
  (6, 'r6', 'Eel', 'eel');     -- ok

create view sk.items_v as select id, ref, name, key from sk.items where id <= 4;

create schema "Sk";
create table "Sk"."Items Mixed" ("Id" int, "Name" text, "Key" text);
insert into "Sk"."Items Mixed" values (1, 'Ant', 'ant'), (2, 'Bee', 'BEE'), (3, null, 'x');

create table sk.empty (id int, name text, key text);

-- 12 stale rows (ids 1..12) and 3 fresh ones (ids 13..15).
create table sk.many (id int primary key, name text, key text);
insert into sk.many
  select n, 'N' || n, case when n <= 12 then 'stale' || n else 'n' || n end
  from generate_series(1, 15) n;

create table sk.no_id (ref text, name text, key text);
insert into sk.no_id values ('a', 'A', 'a');
`

type Offender = { stored: string | null; expected: string | null } & Record<string, unknown>

const byId = (sample: unknown[], id: string) =>
  [...(sample as Offender[])].sort((a, b) => String(a[id]).localeCompare(String(b[id])))

describe.each(engines())('stale_keys on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'stale_keys', ...input }), RUN)

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('splits stale rows into mismatched, missing and unexpected; NULL = NULL is fine', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA })
    expect(m.value).toBe(3)
    expect(m.details).toEqual({ rows: 6, mismatched: 1, missing: 1, unexpected: 1, ratio: 0.5 })
    expect(byId(m.sample, 'id')).toEqual([
      { id: 2, stored: 'wrong', expected: 'bee' },
      { id: 3, stored: 'cat', expected: null },
      { id: 5, stored: null, expected: 'dog' },
    ])
  })

  it('a formula that is always NULL: every stored key is unexpected', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: 'null::text' })
    expect(m.value).toBe(4)
    expect(m.details).toEqual({
      rows: 6,
      mismatched: 0,
      missing: 0,
      unexpected: 4,
      ratio: 0.666667,
    })
  })

  it('a key column that is all NULL where the formula is too: nothing stale', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, where: 'id = 4' })
    expect(m.value).toBe(0)
    expect(m.details).toEqual({ rows: 1, mismatched: 0, missing: 0, unexpected: 0, ratio: 0 })
    expect(m.sample).toEqual([])
  })

  it('a where filter narrows the rows (and the ratio)', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, where: 'id > 2' })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({ rows: 4, mismatched: 0, missing: 1, unexpected: 1, ratio: 0.5 })
    expect(byId(m.sample, 'id')).toEqual([
      { id: 3, stored: 'cat', expected: null },
      { id: 5, stored: null, expected: 'dog' },
    ])
  })

  it('a ratio that does not divide evenly is rounded to 6 places', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, where: 'id <= 3' })
    expect(m.details).toEqual({
      rows: 3,
      mismatched: 1,
      missing: 0,
      unexpected: 1,
      ratio: 0.666667,
    })
  })

  it('quoted mixed-case table and columns; samples labelled by the unquoted id', async () => {
    const m = await run({
      table: '"Sk"."Items Mixed"',
      key: '"Key"',
      formula: 'lower("Name")',
      id: '"Id"',
    })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({
      rows: 3,
      mismatched: 1,
      missing: 0,
      unexpected: 1,
      ratio: 0.666667,
    })
    expect(byId(m.sample, 'Id')).toEqual([
      { Id: 2, stored: 'BEE', expected: 'bee' },
      { Id: 3, stored: 'x', expected: null },
    ])
  })

  it('a view as the table', async () => {
    const m = await run({ table: 'sk.items_v', key: 'key', formula: FORMULA })
    expect(m.value).toBe(2)
    expect(m.details).toEqual({ rows: 4, mismatched: 1, missing: 0, unexpected: 1, ratio: 0.5 })
  })

  it('an empty table: ratio 0, no division by zero', async () => {
    const m = await run({ table: 'sk.empty', key: 'key', formula: FORMULA })
    expect(m.value).toBe(0)
    expect(m.details).toEqual({ rows: 0, mismatched: 0, missing: 0, unexpected: 0, ratio: 0 })
    expect(m.sample).toEqual([])
  })

  it('a where that matches nothing: ratio 0', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, where: 'false' })
    expect(m.details).toEqual({ rows: 0, mismatched: 0, missing: 0, unexpected: 0, ratio: 0 })
  })

  it('the sample holds at most 5 offenders, each with id, stored and expected', async () => {
    const m = await run({ table: 'sk.many', key: 'key', formula: 'lower(name)' })
    expect(m.value).toBe(12)
    expect(m.details).toEqual({ rows: 15, mismatched: 12, missing: 0, unexpected: 0, ratio: 0.8 })
    expect(m.sample).toHaveLength(5)
    const ids = new Set<number>()
    for (const entry of m.sample as { id: number; stored: string; expected: string }[]) {
      expect(Object.keys(entry).sort()).toEqual(['expected', 'id', 'stored'])
      expect(entry.id).toBeGreaterThanOrEqual(1)
      expect(entry.id).toBeLessThanOrEqual(12)
      expect(entry.stored).toBe(`stale${entry.id}`)
      expect(entry.expected).toBe(`n${entry.id}`)
      ids.add(entry.id)
    }
    expect(ids.size).toBe(5)
  })

  it('id pointing at another column: samples carry that column', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, id: 'ref' })
    expect(m.value).toBe(3)
    expect(byId(m.sample, 'ref')).toEqual([
      { ref: 'r2', stored: 'wrong', expected: 'bee' },
      { ref: 'r3', stored: 'cat', expected: null },
      { ref: 'r5', stored: null, expected: 'dog' },
    ])
  })

  it('id as an expression: samples are labelled by the expression', async () => {
    const m = await run({ table: 'sk.items', key: 'key', formula: FORMULA, id: "ref || '#'" })
    expect(byId(m.sample, "ref || '#'").map((e) => e["ref || '#'"])).toEqual(['r2#', 'r3#', 'r5#'])
  })

  describe('errors name the field', () => {
    it('a table that does not exist', async () => {
      const error = await rejection(run({ table: 'sk.nope', key: 'key', formula: FORMULA }))
      expect(error.message).toContain('check field "table"')
      expect(error.message).toContain('"sk.nope" does not exist')
    })

    it('a key column that does not exist', async () => {
      const error = await rejection(run({ table: 'sk.items', key: 'nope', formula: FORMULA }))
      expect(error.message).toContain('check field "key"')
      expect(error.message).toContain('column "nope" does not exist')
    })

    it('a formula over a column that does not exist', async () => {
      const error = await rejection(run({ table: 'sk.items', key: 'key', formula: 'lower(nope)' }))
      expect(error.message).toContain('check field "formula"')
      expect(error.message).toContain('column "nope" does not exist')
    })

    it('the default id on a table without an id column', async () => {
      const error = await rejection(run({ table: 'sk.no_id', key: 'key', formula: 'lower(name)' }))
      expect(error.message).toContain('check field "id"')
      expect(error.message).toContain('column "id" does not exist')
    })

    it('a where on a column that does not exist', async () => {
      const error = await rejection(
        run({ table: 'sk.items', key: 'key', formula: FORMULA, where: 'nope' }),
      )
      expect(error.message).toContain('check field "where"')
    })
  })
})
