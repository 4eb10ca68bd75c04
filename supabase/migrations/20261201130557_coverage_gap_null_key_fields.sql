-- dq-monitor migration "coverage_gap_null_key_fields", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/30_kind_coverage_gap.sql =====

-- dq-monitor: the coverage_gap kind (checks/kinds/coverage_gap).

-- coverage_gap: source rows whose key has no target row.
-- When a unique index covers the target key, each source row matches at most
-- one target row, so a single LEFT JOIN pass counts both the source rows and
-- the missing ones (as fast as the bare anti-join, or faster). Otherwise NOT
-- EXISTS lets the planner use an anti-join (and the target's index on the
-- key), and the source is counted by a plain scan beside it; the missing keys
-- are kept (materialised) as the anti-join finds them, so the sample costs no
-- second anti-join.
-- Incremental: only source rows changed since the watermark, each looked up
-- in the whole target.
-- A NULL key never matches. For a key of several fields that means a NULL in
-- any field: a row (row(a, b), a composite type), an array (array[a, b]),
-- or a row inside an array (array[row(a, b)]). Compared whole (record_eq,
-- array_eq: what joins use) NULL fields would be equal, so such keys are
-- kept out of the match explicitly, on the source side (a target key equal
-- to a source key without NULLs has none either). A row value IS NOT NULL
-- only when every field is; an array's elements are its fields.
create or replace function dq.kind_coverage_gap(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec #>> '{source,table}', 'source.table');
  source_key text := dq.expression_sql(source, spec #>> '{source,key}', 'source.key');
  source_where text := dq.expression_sql(source, spec #>> '{source,where}', 'source.where', required => false, is_predicate => true)
                       || ' and ' || dq.scan_guard();
  target text := dq.relation_sql(spec #>> '{target,table}', 'target.table');
  target_key text := dq.expression_sql(target, spec #>> '{target,key}', 'target.key');
  target_where text := dq.expression_sql(target, spec #>> '{target,where}', 'target.where', required => false, is_predicate => true);
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  source_rows_sql text;
  missing_rows_sql text;
  source_rows bigint;
  missing bigint;
  sample jsonb := '[]'::jsonb;
  details jsonb;
  key_form text;
  matchable text := '';
begin
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;
  -- 'row', 'array', 'array of rows', or NULL for a key of one value.
  -- An array type has an element type and a variable length (record[], the type of
  -- array[row(a, b)], is a pseudo-type by category, so the category cannot tell).
  select case
    when t.typtype = 'c' or t.oid = 'record'::regtype then 'row'
    when t.typelem = 0 or t.typlen <> -1 then null
    when e.typtype = 'c' or e.oid = 'record'::regtype then 'array of rows'
    else 'array'
  end into key_form
  from pg_type t left join pg_type e on e.oid = t.typelem
  where t.oid = dq.expression_type(source, source_key);
  if key_form = 'row' then
    matchable := 'dq_s.dq_key is not null and ';
  elsif key_form = 'array' then
    -- array_position finds a NULL element without a subquery, in one dimension only.
    matchable := 'case array_ndims(dq_s.dq_key) when 1 then array_position(dq_s.dq_key, null) is null'
                 ' else not exists (select from (select unnest(dq_s.dq_key) as dq_e) dq_u where dq_e is null) end and ';
  elsif key_form = 'array of rows' then
    -- Each element is a row of fields: NOT (IS NOT NULL) finds one with a NULL field. unnest
    -- in the select list: in FROM, a record[] would need a column definition list.
    matchable := 'not exists (select from (select unnest(dq_s.dq_key) as dq_e) dq_u where not (dq_e is not null)) and ';
  end if;
  -- The source key is computed in its own scope, so a column name that exists
  -- in both tables still binds to the source.
  source_rows_sql := format('select (%s) as dq_key from %s as dq_src where (%s) and (%s)',
    source_key, source, source_where, scope_filter);
  missing_rows_sql := format(
    'select dq_s.dq_key from (%s) dq_s where not exists (select 1 from %s as dq_tgt where %s(%s) = dq_s.dq_key and (%s))',
    source_rows_sql, target, matchable, target_key, target_where);

  if dq.has_unique_index((spec #>> '{target,table}')::regclass, array[target_key]) then
    execute format($q$
      select count(*), count(*) filter (where dq_m.dq_found is null)
      from (%1$s) dq_s
      left join (select (%3$s) as dq_tkey, true as dq_found from %2$s as dq_tgt where (%4$s)) dq_m
        on %5$sdq_m.dq_tkey = dq_s.dq_key
    $q$, source_rows_sql, target, target_key, target_where, matchable)
    into source_rows, missing;
    if missing > 0 then
      -- Stops at the 5th missing row: a few rows when gaps are common.
      execute format('select coalesce(jsonb_agg(jsonb_build_object(%L, dq_key)), ''[]'') from (%s limit 5) m',
        dq.column_label(source_key), missing_rows_sql)
        into sample;
    end if;
  elsif plan ->> 'scope' = 'incremental' then
    -- A few changed rows, fetched once through the column's index for both
    -- counts (a CTE scan would cost a full run its parallel workers).
    execute format($q$
      with dq_s as materialized (%1$s),
      dq_missing as materialized (
        select dq_s.dq_key from dq_s
        where not exists (select 1 from %2$s as dq_tgt where %6$s(%3$s) = dq_s.dq_key and (%4$s)))
      select (select count(*) from dq_s), (select count(*) from dq_missing),
             coalesce((select jsonb_agg(jsonb_build_object(%5$L, dq_key))
                       from (select dq_key from dq_missing limit 5) m), '[]'::jsonb)
    $q$, source_rows_sql, target, target_key, target_where, dq.column_label(source_key), matchable)
    into source_rows, missing, sample;
  else
    execute format($q$
      with dq_missing as materialized (%2$s)
      select (select count(*) from (%1$s) dq_s),
             (select count(*) from dq_missing),
             coalesce((select jsonb_agg(jsonb_build_object(%3$L, dq_key))
                       from (select dq_key from dq_missing limit 5) m), '[]'::jsonb)
    $q$, source_rows_sql, missing_rows_sql, dq.column_label(source_key))
    into source_rows, missing, sample;
  end if;

  details := jsonb_build_object(
    'source_rows', source_rows, 'missing', missing, 'ratio', dq.ratio(missing, source_rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, source_where);
  end if;
  return jsonb_build_object('value', missing, 'details', details, 'sample', sample);
end
$$;

-- The indexes an incremental coverage_gap check needs (dq.index_advice).
create or replace function dq.kind_coverage_gap_indexes(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  column_sql text := spec #>> '{incremental,column}';
begin
  perform dq.expression_sql(dq.relation_sql(spec #>> '{source,table}', 'source.table'), column_sql,
                            'incremental.column');
  perform dq.expression_sql(dq.relation_sql(spec #>> '{target,table}', 'target.table'),
                            spec #>> '{target,key}', 'target.key');
  return jsonb_build_array(
    jsonb_build_object('table', spec #>> '{source,table}', 'columns', jsonb_build_array(column_sql),
                       'purpose', 'find the rows changed since the last run'),
    jsonb_build_object('table', spec #>> '{target,table}', 'columns', jsonb_build_array(spec #>> '{target,key}'),
                       'purpose', 'look each changed source row up in the target'));
end
$$;

-- What a coverage_gap check reads (27_unchanged.sql): source and target, through their keys and wheres.
create or replace function dq.kind_coverage_gap_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.reads_of(jsonb_build_array(
    jsonb_build_object(
      'table', dq.relation_sql(spec #>> '{source,table}', 'source.table'),
      'fields', jsonb_build_object('source.key', spec #>> '{source,key}', 'source.where', spec #>> '{source,where}')),
    jsonb_build_object(
      'table', dq.relation_sql(spec #>> '{target,table}', 'target.table'),
      'fields', jsonb_build_object('target.key', spec #>> '{target,key}', 'target.where', spec #>> '{target,where}'))))
$$;

-- ===== supabase/schemas/90_grants.sql =====

-- dq-monitor: grants. Nothing in dq is for PUBLIC, anon or authenticated;
-- service_role (Supabase) and dq_monitor (direct connections) may use it all.
-- One function, called last by every migration, after it created objects.
create or replace function dq.apply_grants()
returns void
language plpgsql
volatile
as $$
declare
  role_name text;
begin
  if not exists (select 1 from pg_roles where rolname = 'dq_monitor') then
    create role dq_monitor nologin;
  end if;

  revoke all on schema dq from public;
  revoke all on all tables in schema dq from public;
  revoke all on all sequences in schema dq from public;
  revoke all on all functions in schema dq from public;

  foreach role_name in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('revoke all on schema dq from %I', role_name);
      execute format('revoke all on all tables in schema dq from %I', role_name);
      execute format('revoke all on all sequences in schema dq from %I', role_name);
      execute format('revoke all on all functions in schema dq from %I', role_name);
    end if;
  end loop;

  foreach role_name in array array['service_role', 'dq_monitor'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('grant usage on schema dq to %I', role_name);
      execute format('grant select, insert, update, delete on all tables in schema dq to %I', role_name);
      execute format('grant usage, select on all sequences in schema dq to %I', role_name);
      execute format('grant execute on all functions in schema dq to %I', role_name);
      -- Granting is the migration owner's business, not the monitor's.
      execute format('revoke execute on function dq.apply_grants() from %I', role_name);
      -- dq.as_monitor runs catalog SQL as its owner; only dq_monitor (its owner) calls it.
      if role_name <> 'dq_monitor' and to_regprocedure('dq.as_monitor(text,jsonb)') is not null then
        execute format('revoke execute on function dq.as_monitor(text, jsonb) from %I', role_name);
      end if;
    end if;
  end loop;

  -- dq.as_monitor is owned by dq_monitor, so that it runs as dq_monitor (SECURITY
  -- DEFINER). Giving it away needs membership in dq_monitor and, for the moment
  -- of the change, dq_monitor's CREATE on the schema.
  if to_regprocedure('dq.as_monitor(text,jsonb)') is not null
     and (select p.proowner from pg_proc p where p.oid = 'dq.as_monitor(text,jsonb)'::regprocedure)
         <> 'dq_monitor'::regrole then
    if not pg_has_role(current_user, 'dq_monitor', 'MEMBER') then
      begin
        execute format('grant dq_monitor to %I', current_user);
      exception when insufficient_privilege then
        raise exception using errcode = '42501',
          message = format('%I cannot give dq.as_monitor to dq_monitor: it is not a member of dq_monitor', current_user),
          hint = format('as a superuser: grant dq_monitor to %I; then run dq migrate again', current_user);
      end;
    end if;
    grant create on schema dq to dq_monitor;
    alter function dq.as_monitor(text, jsonb) owner to dq_monitor;
    revoke create on schema dq from dq_monitor;
  end if;
end
$$;

alter default privileges in schema dq revoke execute on functions from public;

select dq.apply_grants();
