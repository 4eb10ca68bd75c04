// trigger: edge cases of dq.check_trigger, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { measureCheck } from '../../../checks/store.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

const FIXTURE = `
create function public.set_updated_at() returns trigger language plpgsql as $$
begin new.updated_at := now(); return new; end $$;

create schema tg;
-- Same name as public.set_updated_at, another schema.
create function tg.set_updated_at() returns trigger language plpgsql as $$
begin return new; end $$;

create table tg.by_name (id int, updated_at timestamptz);
create trigger by_name_touch before update on tg.by_name
  for each row execute function public.set_updated_at();

create table tg.other_schema_fn (id int, updated_at timestamptz);
create trigger other_touch before update on tg.other_schema_fn
  for each row execute function tg.set_updated_at();

create table tg.insert_only (id int, updated_at timestamptz);
create trigger insert_only_touch before insert on tg.insert_only
  for each row execute function public.set_updated_at();

create table tg.insert_or_update (id int, updated_at timestamptz);
create trigger iou_touch before insert or update on tg.insert_or_update
  for each row execute function public.set_updated_at();

create table tg.after_update (id int, updated_at timestamptz);
create trigger after_touch after update on tg.after_update
  for each row execute function public.set_updated_at();

create table tg.always (id int, updated_at timestamptz);
create trigger always_touch before update on tg.always
  for each row execute function public.set_updated_at();
alter table tg.always enable always trigger always_touch;

create table tg.replica (id int, updated_at timestamptz);
create trigger replica_touch before update on tg.replica
  for each row execute function public.set_updated_at();
alter table tg.replica enable replica trigger replica_touch;

create table tg.disabled (id int, updated_at timestamptz);
create trigger disabled_touch before update on tg.disabled
  for each row execute function public.set_updated_at();
alter table tg.disabled disable trigger disabled_touch;

-- One disabled match and one enabled trigger that does not match: disabled.
create table tg.mixed (id int, updated_at timestamptz);
create trigger a_mixed_audit after insert on tg.mixed
  for each row execute function public.set_updated_at();
create trigger b_mixed_touch before update on tg.mixed
  for each row execute function public.set_updated_at();
alter table tg.mixed disable trigger b_mixed_touch;

-- Only the internal triggers of a foreign key, on both ends.
create table tg.fk_parent (id int primary key);
create table tg.fk_child (id int, parent_id int references tg.fk_parent (id));

-- A trigger on a partitioned parent, with partitions created before and after it.
create table tg.part (id int, updated_at timestamptz) partition by range (id);
create table tg.part_1 partition of tg.part for values from (0) to (10);
create trigger part_touch before update on tg.part
  for each row execute function public.set_updated_at();
create table tg.part_2 partition of tg.part for values from (10) to (20);

-- Quoted mixed-case trigger, function and column names.
create function tg."SetStamp"() returns trigger language plpgsql as $$
begin return new; end $$;
create table tg.quoted ("Id" int, "UpdatedAt" timestamptz);
create trigger "Stamp Trigger" before update on tg.quoted
  for each row execute function tg."SetStamp"();
create schema tgq;
create table tgq.with_trigger ("UpdatedAt" timestamptz);
create trigger "Stamp Trigger" before update on tgq.with_trigger
  for each row execute function tg."SetStamp"();
create table tgq.without_trigger ("UpdatedAt" timestamptz);
create table tgq.lower_case (updatedat timestamptz);

-- Discovery: every table of tgd (and tgd2) with an updated_at column.
create schema tgd;
create table tgd.ok (id int, updated_at timestamptz);
create trigger ok_touch before update on tgd.ok
  for each row execute function public.set_updated_at();
create table tgd.missing_one (id int, updated_at timestamptz);
create table tgd.disabled_one (id int, updated_at timestamptz);
create trigger disabled_one_touch before update on tgd.disabled_one
  for each row execute function public.set_updated_at();
alter table tgd.disabled_one disable trigger disabled_one_touch;
create table tgd.wrong_timing (id int, updated_at timestamptz);
create trigger wrong_timing_touch after update on tgd.wrong_timing
  for each row execute function public.set_updated_at();
create table tgd.no_column (id int);
create view tgd.a_view as select id, updated_at from tgd.missing_one;
create table tgd.parted (id int, updated_at timestamptz) partition by range (id);
create table tgd.parted_1 partition of tgd.parted for values from (0) to (10);
create trigger parted_touch before update on tgd.parted
  for each row execute function public.set_updated_at();
create table tgd.parted_missing (id int, updated_at timestamptz) partition by range (id);
create table tgd.parted_missing_1 partition of tgd.parted_missing for values from (0) to (10);
create table tgd."Odd Name" (id int, updated_at timestamptz);
create schema tgd2;
create table tgd2.elsewhere (id int, updated_at timestamptz);
create schema tgd_empty;
`

type TableProblem = {
  table: string
  problem: string
  triggers: { name: string; enabled: boolean; state: string; matches: boolean }[]
}

describe.each(engines())('trigger on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'trigger', ...input }), RUN)
  const updatedAt = { function: 'set_updated_at', events: ['UPDATE'], timing: 'BEFORE' }

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  describe('by name', () => {
    it('passes when a trigger of that name exists', async () => {
      const m = await run({ table: 'tg.by_name', trigger: 'by_name_touch' })
      expect(m).toEqual({
        value: 0,
        details: { tables_checked: 1, tables: [] },
        sample: [],
      })
    })

    it('missing when no trigger has that name, listing the ones found', async () => {
      const m = await run({ table: 'tg.by_name', trigger: 'other_name' })
      expect(m.value).toBe(1)
      expect(m.details).toEqual({
        tables_checked: 1,
        tables: [
          {
            table: 'tg.by_name',
            problem: 'missing',
            triggers: [
              {
                name: 'by_name_touch',
                function: 'public.set_updated_at',
                timing: 'BEFORE',
                events: ['UPDATE'],
                enabled: true,
                state: 'enabled',
                matches: false,
              },
            ],
          },
        ],
      })
      expect(m.sample).toEqual([{ table: 'tg.by_name', problem: 'missing' }])
    })
  })

  describe('by function', () => {
    it('unqualified: matches the function in any schema', async () => {
      expect((await run({ table: 'tg.by_name', function: 'set_updated_at' })).value).toBe(0)
      expect((await run({ table: 'tg.other_schema_fn', function: 'set_updated_at' })).value).toBe(0)
    })

    it('schema-qualified: only that schema', async () => {
      expect((await run({ table: 'tg.by_name', function: 'public.set_updated_at' })).value).toBe(0)
      expect((await run({ table: 'tg.by_name', function: 'public.set_updated_at()' })).value).toBe(
        0,
      )
      const m = await run({ table: 'tg.other_schema_fn', function: 'public.set_updated_at' })
      expect(m.value).toBe(1)
      expect((m.details.tables as TableProblem[])[0]).toMatchObject({
        table: 'tg.other_schema_fn',
        problem: 'missing',
        triggers: [{ name: 'other_touch', matches: false }],
      })
    })

    it('a function that does not exist: missing', async () => {
      const m = await run({ table: 'tg.by_name', function: 'public.no_such_function' })
      expect(m.value).toBe(1)
      expect(m.sample).toEqual([{ table: 'tg.by_name', problem: 'missing' }])
    })

    it('name and function together must both match', async () => {
      expect(
        (await run({ table: 'tg.by_name', trigger: 'by_name_touch', function: 'set_updated_at' }))
          .value,
      ).toBe(0)
      expect(
        (await run({ table: 'tg.by_name', trigger: 'by_name_touch', function: 'other_fn' })).value,
      ).toBe(1)
    })
  })

  describe('quoted mixed-case names, as in SQL', () => {
    it('a trigger name, quoted or as stored', async () => {
      expect((await run({ table: 'tg.quoted', trigger: '"Stamp Trigger"' })).value).toBe(0)
      expect((await run({ table: 'tg.quoted', trigger: 'Stamp Trigger' })).value).toBe(0)
      expect((await run({ table: 'tg.quoted', trigger: 'stamp trigger' })).value).toBe(1)
    })

    it('a function name, quoted or as stored, qualified or not', async () => {
      for (const fn of ['"SetStamp"', 'SetStamp', 'tg."SetStamp"', 'tg."SetStamp"()']) {
        expect((await run({ table: 'tg.quoted', function: fn })).value, fn).toBe(0)
      }
      for (const fn of ['setstamp', 'tg.SetStamp', 'public."SetStamp"']) {
        expect((await run({ table: 'tg.quoted', function: fn })).value, fn).toBe(1)
      }
    })

    it('a quoted discovery column matches only that spelling', async () => {
      const m = await run({ schemas: ['tgq'], column: '"UpdatedAt"', function: '"SetStamp"' })
      expect(m.value).toBe(1)
      expect(m.details.tables_checked).toBe(2)
      expect(m.details.tables).toEqual([
        { table: 'tgq.without_trigger', problem: 'missing', triggers: [] },
      ])
      const folded = await run({ schemas: ['tgq'], column: 'UpdatedAt', function: '"SetStamp"' })
      expect(folded.details.tables).toEqual([
        { table: 'tgq.lower_case', problem: 'missing', triggers: [] },
      ])
    })
  })

  describe('events', () => {
    it('an INSERT-only trigger fails when UPDATE is required', async () => {
      const m = await run({ table: 'tg.insert_only', ...updatedAt })
      expect(m.value).toBe(1)
      expect(m.details.tables).toEqual([
        {
          table: 'tg.insert_only',
          problem: 'missing',
          triggers: [
            {
              name: 'insert_only_touch',
              function: 'public.set_updated_at',
              timing: 'BEFORE',
              events: ['INSERT'],
              enabled: true,
              state: 'enabled',
              matches: false,
            },
          ],
        },
      ])
    })

    it('INSERT OR UPDATE passes for UPDATE, for INSERT and for both', async () => {
      for (const events of [['UPDATE'], ['INSERT'], ['insert', 'update']]) {
        const m = await run({ table: 'tg.insert_or_update', ...updatedAt, events })
        expect(m.value, JSON.stringify(events)).toBe(0)
      }
    })

    it('INSERT OR UPDATE does not cover DELETE', async () => {
      const m = await run({ table: 'tg.insert_or_update', events: ['UPDATE', 'DELETE'] })
      expect(m.value).toBe(1)
    })
  })

  describe('timing', () => {
    it('an AFTER trigger when BEFORE is required: missing', async () => {
      const m = await run({ table: 'tg.after_update', ...updatedAt })
      expect(m.value).toBe(1)
      expect((m.details.tables as TableProblem[])[0]).toMatchObject({
        problem: 'missing',
        triggers: [{ name: 'after_touch', timing: 'AFTER', matches: false }],
      })
    })

    it('the same trigger passes when AFTER is required', async () => {
      expect((await run({ table: 'tg.after_update', ...updatedAt, timing: 'AFTER' })).value).toBe(0)
    })

    it('a BEFORE trigger when AFTER is required: missing', async () => {
      expect((await run({ table: 'tg.by_name', timing: 'after' })).value).toBe(1)
    })
  })

  describe('enabled state', () => {
    it("ENABLE ALWAYS ('A') counts", async () => {
      expect((await run({ table: 'tg.always', ...updatedAt })).value).toBe(0)
      // seen in the listing as 'always' when the check fails for another reason
      const m = await run({ table: 'tg.always', trigger: 'nope' })
      expect((m.details.tables as TableProblem[])[0]?.triggers).toEqual([
        expect.objectContaining({ name: 'always_touch', enabled: true, state: 'always' }),
      ])
    })

    it("ENABLE REPLICA ('R') does not fire in a normal session: disabled", async () => {
      const m = await run({ table: 'tg.replica', ...updatedAt })
      expect(m.value).toBe(1)
      expect(m.details.tables).toEqual([
        {
          table: 'tg.replica',
          problem: 'disabled',
          triggers: [
            {
              name: 'replica_touch',
              function: 'public.set_updated_at',
              timing: 'BEFORE',
              events: ['UPDATE'],
              enabled: false,
              state: 'replica',
              matches: true,
            },
          ],
        },
      ])
      expect(m.sample).toEqual([{ table: 'tg.replica', problem: 'disabled' }])
    })

    it("DISABLE ('D'): disabled", async () => {
      const m = await run({ table: 'tg.disabled', ...updatedAt })
      expect(m.value).toBe(1)
      expect((m.details.tables as TableProblem[])[0]).toMatchObject({
        table: 'tg.disabled',
        problem: 'disabled',
        triggers: [{ name: 'disabled_touch', enabled: false, state: 'disabled', matches: true }],
      })
    })

    it('a disabled match next to an enabled trigger that does not match: disabled', async () => {
      const m = await run({ table: 'tg.mixed', ...updatedAt })
      expect(m.value).toBe(1)
      const [table] = m.details.tables as TableProblem[]
      expect(table?.problem).toBe('disabled')
      expect(table?.triggers.map((t) => [t.name, t.enabled, t.matches])).toEqual([
        ['a_mixed_audit', true, false],
        ['b_mixed_touch', false, true],
      ])
    })
  })

  describe('internal triggers never count', () => {
    it('a table with only foreign-key triggers (referencing side): missing, none listed', async () => {
      const m = await run({ table: 'tg.fk_child' })
      expect(m.value).toBe(1)
      expect(m.details.tables).toEqual([{ table: 'tg.fk_child', problem: 'missing', triggers: [] }])
    })

    it('nor on the referenced side', async () => {
      const m = await run({ table: 'tg.fk_parent' })
      expect(m.details.tables).toEqual([
        { table: 'tg.fk_parent', problem: 'missing', triggers: [] },
      ])
    })
  })

  describe('a partitioned table', () => {
    it('passes with the trigger defined on the parent', async () => {
      expect((await run({ table: 'tg.part', ...updatedAt, trigger: 'part_touch' })).value).toBe(0)
    })

    it("a partition passes with the parent's cloned trigger (partition made before or after)", async () => {
      expect((await run({ table: 'tg.part_1', ...updatedAt, trigger: 'part_touch' })).value).toBe(0)
      expect((await run({ table: 'tg.part_2', ...updatedAt, trigger: 'part_touch' })).value).toBe(0)
    })
  })

  describe('discovery: schemas + column', () => {
    const offenders = (tables: unknown) =>
      [...(tables as TableProblem[])].sort((a, b) => (a.table < b.table ? -1 : 1))

    it('lists exactly the offending tables with the column, skipping partitions and views', async () => {
      const m = await run({ schemas: ['tgd'], column: 'updated_at', ...updatedAt })
      expect(m.value).toBe(5)
      expect(m.details.tables_checked).toBe(7)
      expect(offenders(m.details.tables)).toEqual([
        { table: 'tgd."Odd Name"', problem: 'missing', triggers: [] },
        {
          table: 'tgd.disabled_one',
          problem: 'disabled',
          triggers: [
            {
              name: 'disabled_one_touch',
              function: 'public.set_updated_at',
              timing: 'BEFORE',
              events: ['UPDATE'],
              enabled: false,
              state: 'disabled',
              matches: true,
            },
          ],
        },
        { table: 'tgd.missing_one', problem: 'missing', triggers: [] },
        { table: 'tgd.parted_missing', problem: 'missing', triggers: [] },
        {
          table: 'tgd.wrong_timing',
          problem: 'missing',
          triggers: [
            {
              name: 'wrong_timing_touch',
              function: 'public.set_updated_at',
              timing: 'AFTER',
              events: ['UPDATE'],
              enabled: true,
              state: 'enabled',
              matches: false,
            },
          ],
        },
      ])
    })

    it('several schemas', async () => {
      const m = await run({ schemas: ['tgd', 'tgd2'], column: 'updated_at', ...updatedAt })
      expect(m.value).toBe(6)
      expect(m.details.tables_checked).toBe(8)
      expect(offenders(m.details.tables).map((t) => t.table)).toEqual([
        'tgd."Odd Name"',
        'tgd.disabled_one',
        'tgd.missing_one',
        'tgd.parted_missing',
        'tgd.wrong_timing',
        'tgd2.elsewhere',
      ])
      expect(m.sample).toHaveLength(5)
    })

    it('a schema with no table that has the column: error, not a pass that checked nothing', async () => {
      const error = await rejection(
        run({ schemas: ['tgd_empty'], column: 'updated_at', ...updatedAt }),
      )
      expect(error.message).toContain('check field "column"')
    })

    it('a schema that does not exist: error', async () => {
      const error = await rejection(
        run({ schemas: ['tgd', 'no_such_schema'], column: 'updated_at', ...updatedAt }),
      )
      expect(error.message).toContain('schema "no_such_schema" does not exist')
      expect(error.code).toBe('database')
    })

    it('a column no table of those schemas has: error naming the field', async () => {
      const error = await rejection(run({ schemas: ['tgd'], column: 'updated_ad', ...updatedAt }))
      expect(error.message).toContain('check field "column"')
      expect(error.message).toContain('updated_ad')
    })
  })

  it('a quoted mixed-case table is reported with its quotes', async () => {
    const m = await run({ table: 'tgd."Odd Name"', ...updatedAt })
    expect(m.sample).toEqual([{ table: 'tgd."Odd Name"', problem: 'missing' }])
  })

  describe('errors name the field', () => {
    it('a table that does not exist', async () => {
      const error = await rejection(run({ table: 'tg.no_such_table', ...updatedAt }))
      expect(error.message).toContain('check field "table"')
      expect(error.message).toContain('tg.no_such_table')
    })
  })
})
