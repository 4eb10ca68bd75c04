-- dq-monitor: the trigger kind (checks/kinds/trigger).

-- trigger: every target table must have a matching, enabled user trigger.
-- Targets are one `table`, or every table in `schemas` that has `column`.
-- Internal triggers (foreign keys) never count; a clone of a partitioned
-- parent's trigger does. tgenabled O (origin) and A (always) fire in a normal
-- session; D (disabled) and R (replica only) do not. Trigger and function
-- names match as stored or as SQL reads them: "SetStamp" quoted keeps its
-- case, Set_Stamp unquoted folds to set_stamp.
create or replace function dq.kind_trigger(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  trigger_name text := nullif(btrim(spec ->> 'trigger'), '');
  function_name text := nullif(regexp_replace(btrim(coalesce(spec ->> 'function', '')), '\(\s*\)$', ''), '');
  timing text := upper(nullif(btrim(spec ->> 'timing'), ''));
  event_mask int := 0;
  event text;
  targets oid[];
  missing_schema text;
  result jsonb;
begin
  if jsonb_typeof(spec -> 'events') = 'array' then
    for event in select upper(e) from jsonb_array_elements_text(spec -> 'events') e loop
      event_mask := event_mask | case event
        when 'INSERT' then 4 when 'DELETE' then 8 when 'UPDATE' then 16 when 'TRUNCATE' then 32
        else null end;
      if event_mask is null then
        raise exception using errcode = '22023',
          message = format('check field "events" has "%s" (expected INSERT, UPDATE, DELETE or TRUNCATE)', event);
      end if;
    end loop;
  end if;
  if timing is not null and timing not in ('BEFORE', 'AFTER', 'INSTEAD OF') then
    raise exception using errcode = '22023',
      message = format('check field "timing" is "%s" (expected BEFORE, AFTER or INSTEAD OF)', spec ->> 'timing');
  end if;

  if spec ? 'schemas' and spec -> 'schemas' <> 'null'::jsonb then
    if jsonb_typeof(spec -> 'schemas') <> 'array' or jsonb_array_length(spec -> 'schemas') = 0 then
      raise exception using errcode = '22023', message = 'check field "schemas" must be a non-empty array of schema names';
    end if;
    perform dq.sql_fragment(spec ->> 'column', 'column');
    select s into missing_schema from jsonb_array_elements_text(spec -> 'schemas') s
      where to_regnamespace(quote_ident(s)) is null limit 1;
    if missing_schema is not null then
      raise exception using errcode = '3F000', message = format('schema "%s" does not exist', missing_schema);
    end if;
    select coalesce(array_agg(c.oid order by n.nspname, c.relname), '{}') into targets
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in (select jsonb_array_elements_text(spec -> 'schemas'))
      and c.relkind in ('r', 'p')
      and not c.relispartition
      and exists (
        select 1 from pg_attribute a
        where a.attrelid = c.oid and a.attname = dq.column_label(spec ->> 'column')
          and a.attnum > 0 and not a.attisdropped);
    -- A misspelt column would otherwise pass, having checked nothing.
    if cardinality(targets) = 0 then
      raise exception using errcode = '42703',
        message = format('check field "column": no table in schema %s has a column "%s"',
          (select string_agg(quote_ident(s), ', ') from jsonb_array_elements_text(spec -> 'schemas') s),
          dq.column_label(spec ->> 'column'));
    end if;
  else
    perform dq.relation_sql(spec ->> 'table', 'table');
    targets := array[(spec ->> 'table')::regclass::oid];
  end if;

  with target as (
    select t.oid from unnest(targets) as t(oid)
  ),
  user_trigger as (
    select tg.tgrelid, tg.tgname, tg.tgenabled, tg.tgtype::int as tgtype,
           p.oid as fn_oid, p.proname, format('%I.%I', pn.nspname, p.proname) as fn
    from pg_trigger tg
    join target on target.oid = tg.tgrelid
    join pg_proc p on p.oid = tg.tgfoid
    join pg_namespace pn on pn.oid = p.pronamespace
    where not tg.tgisinternal or (tg.tgparentid <> 0 and tg.tgconstraint = 0)
  ),
  described as (
    select ut.*,
      (trigger_name is null or ut.tgname in (trigger_name, dq.column_label(trigger_name)))
      and (function_name is null or case
             when function_name like '%.%' then ut.fn_oid = to_regproc(function_name)::oid
             else ut.proname in (function_name, dq.column_label(function_name)) end)
      and (ut.tgtype & event_mask) = event_mask
      and (timing is null
           or (timing = 'BEFORE' and ut.tgtype & 2 = 2)
           or (timing = 'AFTER' and ut.tgtype & 66 = 0)
           or (timing = 'INSTEAD OF' and ut.tgtype & 64 = 64)) as matches,
      ut.tgenabled in ('O', 'A') as enabled
    from user_trigger ut
  ),
  per_table as (
    select target.oid,
      format('%I.%I', n.nspname, c.relname) as table_name,
      case
        when not coalesce(bool_or(d.matches), false) then 'missing'
        when not coalesce(bool_or(d.matches and d.enabled), false) then 'disabled'
      end as problem,
      coalesce(jsonb_agg(jsonb_build_object(
        'name', d.tgname,
        'function', d.fn,
        'timing', case when d.tgtype & 2 = 2 then 'BEFORE' when d.tgtype & 64 = 64 then 'INSTEAD OF' else 'AFTER' end,
        'events', to_jsonb(array_remove(array[
          case when d.tgtype & 4 = 4 then 'INSERT' end,
          case when d.tgtype & 16 = 16 then 'UPDATE' end,
          case when d.tgtype & 8 = 8 then 'DELETE' end,
          case when d.tgtype & 32 = 32 then 'TRUNCATE' end], null)),
        'enabled', d.enabled,
        'state', case d.tgenabled when 'O' then 'enabled' when 'A' then 'always'
                                  when 'R' then 'replica' when 'D' then 'disabled' end,
        'matches', d.matches) order by d.tgname) filter (where d.tgname is not null), '[]') as triggers
    from target
    join pg_class c on c.oid = target.oid
    join pg_namespace n on n.oid = c.relnamespace
    left join described d on d.tgrelid = target.oid
    group by target.oid, n.nspname, c.relname
  )
  select jsonb_build_object(
    'value', count(*) filter (where problem is not null),
    'details', jsonb_build_object(
      'tables_checked', count(*),
      'tables', coalesce(jsonb_agg(jsonb_build_object('table', table_name, 'problem', problem, 'triggers', triggers)
                          order by table_name) filter (where problem is not null), '[]')),
    'sample', coalesce((
      select jsonb_agg(x.j) from (
        select jsonb_build_object('table', p2.table_name, 'problem', p2.problem) as j
        from per_table p2 where p2.problem is not null order by p2.table_name limit 5) x), '[]'))
  into result
  from per_table;
  return result;
end
$$;
