// required_fields: edge cases of dq.kind_required_fields, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../../checks/catalog.ts'
import { runChecks } from '../../../checks/run-checks.ts'
import { indexAdvice, measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'
import { requiredFields } from './index.ts'

const FIXTURE = `
create schema rf;

-- id 1 complete; 2 NULL name; 3 blank name ('  '); 4 empty name and NULL age;
-- 5 tab-only name (not blank: trim() removes spaces only); 6 NULL everything.
create table rf.people (id int primary key, name text, code varchar(5), flag char(3), age int,
                        tags text[], updated_at timestamptz not null default now() - interval '3 days');
insert into rf.people (id, name, code, flag, age, tags) values
  (1, 'Ann', 'A1', 'yes', 30, '{a}'),
  (2, null, 'B2', 'no', 41, '{}'),
  (3, '  ', '   ', '   ', 22, '{b}'),
  (4, '', 'D4', 'yes', null, null),
  (5, E'\\t', 'E5', 'no', 50, '{c}'),
  (6, null, null, null, null, null);
update rf.people set updated_at = now() - interval '2 days' where id = 6;

create view rf.people_v as select id as person_id, name, age from rf.people where id <= 4;

create table rf.empty (id int, name text);

-- Quoted, mixed-case names.
create schema "Sales";
create table "Sales"."Leads Raw" ("Lead Id" int, "Email" text, "Company" text);
insert into "Sales"."Leads Raw" values (1, 'a@x.com', 'Acme'), (2, ' ', 'Acme'), (3, 'c@x.com', null);

-- Declared partitioning: missing fields in both partitions.
create table rf.events (id int, region text, owner text) partition by list (region);
create table rf.events_eu partition of rf.events for values in ('eu');
create table rf.events_us partition of rf.events for values in ('us');
insert into rf.events values (1, 'eu', 'x'), (2, 'eu', null), (3, 'us', ''), (4, 'us', 'y');

-- A domain over text is text too.
create domain rf.email as text;
create table rf.contacts (id int, email rf.email);
insert into rf.contacts values (1, 'a@x.com'), (2, ' '), (3, null), (4, ' b@x.com');
`

describe('the required_fields schema', () => {
  it('accepts a check, refuses hostile SQL and a field listed twice', () => {
    expect(
      spec({ kind: 'required_fields', table: 'rf.people', fields: ['name', 'lower(code)'] }),
    ).toMatchObject({ kind: 'required_fields', fields: ['name', 'lower(code)'] })
    const refusal = (input: Record<string, unknown>) => {
      try {
        spec({ kind: 'required_fields', table: 'rf.people', fields: ['name'], ...input })
      } catch (error) {
        return String(error)
      }
      throw new Error('accepted')
    }
    expect(refusal({ table: 'rf.people; drop table rf.people' })).toContain(
      'table: must be a single SQL expression',
    )
    expect(refusal({ fields: ['name', 'age -- x'] })).toContain(
      'fields[1]: must not contain SQL comments',
    )
    expect(refusal({ fields: [] })).toContain('fields: must list at least one column')
    expect(refusal({ fields: ['name', 'age', 'name'] })).toContain(
      'fields[2]: is already fields[0]',
    )
    expect(refusal({ blank: 'yes' })).toContain('blank: must be true or false')
    expect(refusal({ where: 'true /* x */' })).toContain('where: must not contain SQL comments')
  })

  it('names the fields most often missing in its one line', () => {
    expect(
      requiredFields.figure({
        rows: 10,
        missing_any: 4,
        ratio: 0.4,
        fields: { a: 1, b: 3, c: 0 },
      }),
    ).toBe('4 of 10 rows miss a required field (40.0%): b 3, a 1')
  })
})

describe.each(engines())('required_fields on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'required_fields', ...input }), RUN)

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('NULL and blank text are missing; a row missing several fields counts once', async () => {
    const m = await run({ table: 'rf.people', fields: ['name', 'age'] })
    // name: 2 NULL, 3 blank, 4 empty, 6 NULL (5, a tab, is not blank); age: 4, 6
    expect(m.value).toBe(4)
    expect(m.details).toEqual({
      rows: 6,
      missing_any: 4,
      ratio: 0.666667,
      fields: { name: 4, age: 2 },
      blank: true,
    })
    expect(m.sample).toEqual(
      expect.arrayContaining([
        { id: 4, missing: ['name', 'age'] },
        { id: 6, missing: ['name', 'age'] },
        { id: 2, missing: ['name'] },
        { id: 3, missing: ['name'] },
      ]),
    )
    expect(m.sample).toHaveLength(4)
  })

  it('blank: false counts only NULL', async () => {
    const m = await run({ table: 'rf.people', fields: ['name', 'age'], blank: false })
    expect(m.details).toMatchObject({ missing_any: 3, fields: { name: 2, age: 2 }, blank: false })
  })

  it('varchar and char are text; arrays and numbers are missing only when NULL', async () => {
    const m = await run({ table: 'rf.people', fields: ['code', 'flag', 'tags', 'age'] })
    // code: 3 blank, 6 NULL; flag: 3 blank, 6 NULL; tags: 4, 6 NULL ('{}' is not NULL); age: 4, 6
    expect(m.details).toMatchObject({
      rows: 6,
      missing_any: 3,
      fields: { code: 2, flag: 2, tags: 2, age: 2 },
    })
  })

  it('an expression is a field, labelled as the catalog spells it', async () => {
    const m = await run({ table: 'rf.people', fields: ["nullif(name, 'Ann')", ' age '] })
    expect(m.details.fields).toEqual({ "nullif(name, 'Ann')": 5, age: 2 })
    expect((m.sample as { missing: string[] }[]).flatMap((s) => s.missing)).toContain(
      "nullif(name, 'Ann')",
    )
  })

  it('where narrows the rows', async () => {
    const m = await run({ table: 'rf.people', fields: ['name'], where: 'id >= 3' })
    expect(m.details).toMatchObject({ rows: 4, missing_any: 3, ratio: 0.75 })
  })

  it('an empty table: ratio 0, no sample', async () => {
    const m = await run({ table: 'rf.empty', fields: ['name'] })
    expect(m).toEqual({
      value: 0,
      details: { rows: 0, missing_any: 0, ratio: 0, fields: { name: 0 }, blank: true },
      sample: [],
    })
  })

  it('a view, its rows named by the id it has', async () => {
    const m = await run({ table: 'rf.people_v', fields: ['name', 'age'], id: 'person_id' })
    expect(m.details).toMatchObject({ rows: 4, missing_any: 3, fields: { name: 3, age: 1 } })
    expect((m.sample as { person_id: number }[]).map((s) => s.person_id).sort()).toEqual([2, 3, 4])
  })

  it('quoted, mixed-case names', async () => {
    const m = await run({
      table: '"Sales"."Leads Raw"',
      fields: ['"Email"', '"Company"'],
      id: '"Lead Id"',
    })
    expect(m.details).toMatchObject({
      rows: 3,
      missing_any: 2,
      fields: { '"Email"': 1, '"Company"': 1 },
    })
    expect(m.sample).toEqual(
      expect.arrayContaining([
        { 'Lead Id': 2, missing: ['"Email"'] },
        { 'Lead Id': 3, missing: ['"Company"'] },
      ]),
    )
  })

  it('a partitioned table counts every partition', async () => {
    const m = await run({ table: 'rf.events', fields: ['owner'] })
    expect(m.details).toMatchObject({ rows: 4, missing_any: 2, fields: { owner: 2 } })
  })

  it('a domain over text can be blank; a value after a space is not', async () => {
    const m = await run({ table: 'rf.contacts', fields: ['email'] })
    expect(m.details).toMatchObject({ missing_any: 2 })
  })

  it('incremental: the first run is full, the next counts only rows changed since', async () => {
    const check = parseCatalog({
      checks: [
        {
          name: 'rf_incremental',
          kind: 'required_fields',
          table: 'rf.people',
          fields: ['name'],
          incremental: { column: 'updated_at' },
        },
      ],
    }).checks
    const first = await runChecks(database().db, check, { trigger: 'cli' })
    expect(first.results[0]?.details).toMatchObject({ scope: 'full', missing_any: 4, rows: 6 })
    await database().exec(
      `insert into rf.people (id, name, updated_at) values (7, ' ', now()), (8, 'Bo', now())`,
    )
    const second = await runChecks(database().db, check, { trigger: 'cli' })
    // Rows 6 (the watermark's row, within the lookback), 7 and 8.
    expect(second.results[0]?.details).toMatchObject({
      scope: 'incremental',
      rows: 3,
      missing_any: 2,
    })
    expect(second.results[0]?.sample).toEqual(
      expect.arrayContaining([
        { id: 6, missing: ['name'] },
        { id: 7, missing: ['name'] },
      ]),
    )
    await database().exec('delete from rf.people where id in (7, 8)')
    const [incremental] = check
    if (!incremental) throw new Error('no check')
    const advice = await indexAdvice(database().db, incremental, RUN)
    expect(advice.details.indexes).toEqual([
      expect.objectContaining({ table: 'rf.people', columns: ['updated_at'], present: false }),
    ])
  })

  describe('errors name the field', () => {
    it('a table that does not exist', async () => {
      const error = await rejection(run({ table: 'rf.nope', fields: ['name'] }))
      expect(error.message).toContain('check field "table"')
      expect(error.message).toContain('"rf.nope" does not exist')
    })

    it('a field that does not exist', async () => {
      const error = await rejection(run({ table: 'rf.people', fields: ['name', 'nope'] }))
      expect(error.message).toContain('check field "fields[1]": column "nope" does not exist')
    })

    it('a table without an id column, and no id given', async () => {
      const error = await rejection(run({ table: 'rf.people_v', fields: ['name'] }))
      expect(error.message).toContain('check field "id": column "id" does not exist')
    })

    it('hostile SQL text that bypasses the catalog is refused by the database too', async () => {
      const bypass = (input: Record<string, unknown>) =>
        rejection(
          measureCheck(
            database().db,
            { name: 'x', kind: 'required_fields', table: 'rf.people', fields: ['name'], ...input },
            RUN,
          ),
        )
      expect((await bypass({ table: 'rf.people; drop table rf.people' })).message).toContain(
        'check field "table" must be a single SQL expression',
      )
      expect((await bypass({ fields: ['name', 'age) from rf.people; --'] })).message).toContain(
        'check field "fields[1]" must be a single SQL expression',
      )
      expect((await bypass({ fields: 'name' })).message).toContain(
        'check field "fields" must be a non-empty array',
      )
      expect((await bypass({ fields: ['name', 'name'] })).message).toContain(
        'check field "fields[1]": name is already fields[0]',
      )
      expect((await bypass({ blank: 'no' })).message).toContain('check field "blank" must be true')
      const rows = await database().query<{ n: number }>('select count(*)::int as n from rf.people')
      expect(rows[0]?.n).toBe(6)
    })
  })
})
