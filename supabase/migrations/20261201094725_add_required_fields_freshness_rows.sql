-- dq-monitor migration "add_required_fields_freshness_rows", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/30_kind_freshness.sql =====

-- dq-monitor: the freshness kind (checks/kinds/freshness), in two forms.
--   table form:    { table, column, where? }: hours since the newest `column`.
--   pairwise form: { source: {table, key, time, where?}, target: {...}, grace? }:
--                  source rows whose target row is older than they are.

-- The time expression in `field`, checked to be a timestamptz, a timestamp or
-- a date (what can say how old a row is).
create or replace function dq.freshness_time_sql(source text, fragment text, field text)
returns text
language plpgsql
stable
as $$
declare
  expr text := dq.expression_sql(source, fragment, field);
  found regtype := dq.expression_type(source, expr);
begin
  if found not in ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) then
    raise exception using errcode = '42804',
      message = format('check field "%s": %s is %s; freshness needs a timestamptz, timestamp or date column',
        field, expr, format_type(found, null));
  end if;
  return expr;
end
$$;

create or replace function dq.kind_freshness(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  table_form boolean := coalesce(jsonb_typeof(spec -> 'table'), 'null') <> 'null'
                        or coalesce(jsonb_typeof(spec -> 'column'), 'null') <> 'null';
  pairwise boolean := coalesce(jsonb_typeof(spec -> 'source'), 'null') <> 'null'
                      or coalesce(jsonb_typeof(spec -> 'target'), 'null') <> 'null';
begin
  if table_form and pairwise then
    raise exception using errcode = '22023',
      message = 'check fields "table"/"column" and "source"/"target" do not go together: give "table" and "column" (how old the newest row is) or "source" and "target" (source rows whose target row is older), not both';
  end if;
  if pairwise then
    return dq.freshness_pairwise(spec);
  end if;
  if not table_form then
    raise exception using errcode = '22023',
      message = 'check field "table" is required: give "table" and "column" (how old the newest row is), or "source" and "target" (source rows whose target row is older)';
  end if;
  return dq.freshness_table(spec);
end
$$;

-- Table form: the value is the hours since the newest `column` (one decimal).
-- max() alone in its query: with a B-tree index on the column, PostgreSQL
-- reads one index entry (the min/max optimisation), where clause or not.
-- No row at all: value NULL, newest NULL, reason "no_rows"; the kind's
-- verdict (checks/kinds/freshness) makes that `fail`. A timestamp without
-- time zone, or a date (its midnight), is read in the session's time zone.
create or replace function dq.freshness_table(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  column_sql text := dq.freshness_time_sql(source, spec ->> 'column', 'column');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  newest jsonb;
  age numeric;
begin
  execute format($q$
    select to_jsonb(dq_newest), round(extract(epoch from now() - dq_newest::timestamptz) / 3600, 1)
    from (select max(%1$s) as dq_newest from %2$s as dq_t where (%3$s)) m
  $q$, column_sql, source, predicate)
    into newest, age;
  if newest is null or jsonb_typeof(newest) = 'null' then
    return jsonb_build_object('value', null,
      'details', jsonb_build_object('newest', null, 'age_hours', null, 'reason', 'no_rows'),
      'sample', '[]'::jsonb);
  end if;
  return jsonb_build_object('value', age,
    'details', jsonb_build_object('newest', newest, 'age_hours', age),
    'sample', '[]'::jsonb);
end
$$;

-- Pairwise form: source rows whose target row (target.key = source.key) is
-- older than they are: target.time < source.time. With several target rows
-- per key, the newest one counts; a target row whose time is NULL was never
-- stamped, so it is behind. Source rows with no target row are reported
-- (missing_target) and not counted: coverage_gap counts those. Source rows
-- younger than `grace` are in flight and not counted at all, nor are source
-- rows whose time is NULL (nothing to compare). A NULL key never matches,
-- nor does a composite key with a NULL field (as in coverage_gap).
-- One pass: a LEFT JOIN to the target when a unique index covers its key,
-- else to the target grouped by key (its newest time). A matched target key
-- equals a source key that is not NULL, so "dq_tkey is not null" says the
-- source row found its target. The sample, the first 5 rows behind, is a
-- second query that stops at the 5th.
create or replace function dq.freshness_pairwise(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec #>> '{source,table}', 'source.table');
  source_key text := dq.expression_sql(source, spec #>> '{source,key}', 'source.key');
  source_time text := dq.freshness_time_sql(source, spec #>> '{source,time}', 'source.time');
  source_where text := dq.expression_sql(source, spec #>> '{source,where}', 'source.where', required => false, is_predicate => true)
                       || ' and ' || dq.scan_guard();
  target text := dq.relation_sql(spec #>> '{target,table}', 'target.table');
  target_key text := dq.expression_sql(target, spec #>> '{target,key}', 'target.key');
  target_time text := dq.freshness_time_sql(target, spec #>> '{target,time}', 'target.time');
  target_where text := dq.expression_sql(target, spec #>> '{target,where}', 'target.where', required => false, is_predicate => true);
  grace interval := dq.interval_value(spec ->> 'grace', 'grace');
  key_is_row boolean;
  matchable text := '';
  source_rows_sql text;
  target_rows_sql text;
  joined_sql text;
  stats record;
  sample jsonb := '[]'::jsonb;
begin
  select t.typtype = 'c' or t.oid = 'record'::regtype into key_is_row
  from pg_type t where t.oid = dq.expression_type(source, source_key);
  if key_is_row then
    matchable := 'dq_s.dq_key is not null and ';
  end if;
  source_rows_sql := format(
    'select (%1$s) as dq_key, (%2$s)::timestamptz as dq_stime from %3$s as dq_src where (%4$s) and (%2$s) is not null and (%5$s)',
    source_key, source_time, source, source_where,
    case when grace is null then 'true' else format('(%s) < now() - %L::interval', source_time, grace) end);
  if dq.has_unique_index((spec #>> '{target,table}')::regclass, array[target_key]) then
    target_rows_sql := format('select (%s) as dq_tkey, (%s)::timestamptz as dq_ttime from %s as dq_tgt where (%s)',
      target_key, target_time, target, target_where);
  else
    target_rows_sql := format('select (%s) as dq_tkey, max((%s)::timestamptz) as dq_ttime from %s as dq_tgt where (%s) group by 1',
      target_key, target_time, target, target_where);
  end if;
  joined_sql := format('(%s) dq_s left join (%s) dq_m on %sdq_m.dq_tkey = dq_s.dq_key',
    source_rows_sql, target_rows_sql, matchable);

  execute format($q$
    select count(*) as source_rows,
           count(*) filter (where dq_m.dq_tkey is not null and (dq_m.dq_ttime is null or dq_m.dq_ttime < dq_s.dq_stime)) as behind,
           count(*) filter (where dq_m.dq_tkey is null) as missing_target,
           max(dq_s.dq_stime - dq_m.dq_ttime) filter (where dq_m.dq_ttime < dq_s.dq_stime) as max_lag
    from %s
  $q$, joined_sql)
    into stats;

  if stats.behind > 0 then
    -- Stops at the 5th row behind: a few rows when most are.
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_key, 'source_time', dq_stime, 'target_time', dq_ttime,
                                                   'lag_seconds', round(extract(epoch from dq_stime - dq_ttime), 3))), '[]')
      from (
        select dq_s.dq_key, dq_s.dq_stime, dq_m.dq_ttime from %2$s
        where dq_m.dq_tkey is not null and (dq_m.dq_ttime is null or dq_m.dq_ttime < dq_s.dq_stime)
        limit 5
      ) behind
    $q$, dq.column_label(source_key), joined_sql)
      into sample;
  end if;

  return jsonb_build_object(
    'value', stats.behind,
    'details', jsonb_build_object(
      'source_rows', stats.source_rows, 'behind', stats.behind, 'missing_target', stats.missing_target,
      'ratio', dq.ratio(stats.behind, stats.source_rows),
      'max_lag_seconds', round(extract(epoch from stats.max_lag), 3)),
    'sample', sample);
end
$$;

-- ===== supabase/schemas/30_kind_required_fields.sql =====

-- dq-monitor: the required_fields kind (checks/kinds/required_fields).

-- required_fields: rows missing at least one of `fields`. A field is missing
-- when it is NULL or, with `blank` (the default), when it is text that is
-- empty after trim; other types are missing only when NULL.
-- One pass: every count (rows, each field, any field) is a FILTER of one
-- scan that keeps its parallel workers. The sample, a few rows with the
-- fields each one misses, stops at the 5th such row.
-- Incremental: only rows changed since the watermark are counted.
create or replace function dq.kind_required_fields(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  blank boolean := true;
  plan jsonb;
  scope_filter text := 'true';
  labels text[] := '{}';
  tests text[] := '{}';
  field record;
  expr text;
  label text;
  base_type oid;
  any_missing text;
  stats record;
  per_field jsonb;
  sample jsonb := '[]'::jsonb;
  details jsonb;
begin
  if jsonb_typeof(spec -> 'fields') is distinct from 'array' or jsonb_array_length(spec -> 'fields') = 0 then
    raise exception using errcode = '22023',
      message = 'check field "fields" must be a non-empty array of column names or SQL expressions';
  end if;
  if spec ? 'blank' and jsonb_typeof(spec -> 'blank') <> 'null' then
    if jsonb_typeof(spec -> 'blank') <> 'boolean' then
      raise exception using errcode = '22023',
        message = format('check field "blank" must be true (a text that is empty after trim is missing) or false (only NULL is), got %s', spec -> 'blank');
    end if;
    blank := (spec ->> 'blank')::boolean;
  end if;

  for field in select f, n from jsonb_array_elements_text(spec -> 'fields') with ordinality as t(f, n) loop
    expr := dq.expression_sql(source, field.f, format('fields[%s]', field.n - 1));
    -- The label is the field as the catalog spells it: details.fields and the
    -- sample name it that way.
    label := btrim(field.f);
    if label = any(labels) then
      raise exception using errcode = '22023',
        message = format('check field "fields[%s]": %s is already fields[%s]; list each field once',
          field.n - 1, label, array_position(labels, label) - 1);
    end if;
    labels := labels || label;
    -- Text types (the string category, domains over them included) can be
    -- blank: empty, or spaces only. Only a value that starts with a space is
    -- trimmed, so btrim() (a copy of each value) runs on a few rows, not all;
    -- collate "C" keeps = and LIKE byte-wise whatever the column's collation.
    select coalesce(nullif(t.typbasetype, 0), t.oid) into base_type
    from pg_type t where t.oid = dq.expression_type(source, expr);
    if blank and (select t.typcategory = 'S' from pg_type t where t.oid = base_type) then
      tests := tests || format('((%1$s) is null or %2$s = %3$L or (%2$s like %4$L and btrim(%2$s) = %3$L))',
        expr, format('((%s)::text collate "C")', expr), '', ' %');
    else
      tests := tests || format('((%s) is null)', expr);
    end if;
  end loop;
  any_missing := array_to_string(tests, ' or ');

  plan := dq.incremental_plan(spec, source);
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format('select count(*) as rows, count(*) filter (where %s) as missing_any, array[%s]::bigint[] as per_field
                  from %s as dq_t where (%s) and (%s)',
    any_missing,
    (select string_agg(format('count(*) filter (where %s)', t), ', ' order by n) from unnest(tests) with ordinality as u(t, n)),
    source, predicate, scope_filter)
    into stats;

  select jsonb_object_agg(labels[n], stats.per_field[n]) into per_field
  from generate_series(1, cardinality(labels)) n;

  if stats.missing_any > 0 then
    -- Stops at the 5th incomplete row: a few rows when gaps are common.
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'missing', to_jsonb(dq_missing))), '[]')
      from (
        select (%2$s) as dq_id, array_remove(array[%3$s]::text[], null) as dq_missing
        from %4$s as dq_t
        where (%5$s) and (%6$s) and (%7$s)
        limit 5
      ) incomplete
    $q$, dq.column_label(id_expr), id_expr,
      (select string_agg(format('case when %s then %L end', t, labels[n]), ', ' order by n)
       from unnest(tests) with ordinality as u(t, n)),
      source, predicate, scope_filter, any_missing)
      into sample;
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'missing_any', stats.missing_any, 'ratio', dq.ratio(stats.missing_any, stats.rows),
    'fields', per_field, 'blank', blank);
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
  end if;
  return jsonb_build_object('value', stats.missing_any, 'details', details, 'sample', sample);
end
$$;

-- The indexes an incremental required_fields check needs (dq.index_advice).
create or replace function dq.kind_required_fields_indexes(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  column_sql text := spec #>> '{incremental,column}';
begin
  perform dq.expression_sql(dq.relation_sql(spec ->> 'table', 'table'), column_sql, 'incremental.column');
  return jsonb_build_array(
    jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql),
                       'purpose', 'find the rows changed since the last run'));
end
$$;

-- ===== supabase/schemas/30_kind_rows.sql =====

-- dq-monitor: the rows kind (checks/kinds/rows).

-- rows: rows in scope that match `where`, the violation ("no row may match
-- this"). A row for which `where` is NULL does not match, as in WHERE.
-- One pass counts the rows in scope and the matching ones; the sample, the
-- first 5 matching ids, stops at the 5th.
-- Incremental: only rows changed since the watermark are counted.
create or replace function dq.kind_rows(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  violation text := dq.expression_sql(source, spec ->> 'where', 'where', required => true, is_predicate => true);
  scope text := dq.expression_sql(source, spec ->> 'scope', 'scope', required => false, is_predicate => true)
                || ' and ' || dq.scan_guard();
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  stats record;
  sample jsonb := '[]'::jsonb;
  details jsonb;
begin
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format('select count(*) as rows, count(*) filter (where %s) as matching from %s as dq_t where (%s) and (%s)',
    violation, source, scope, scope_filter)
    into stats;

  if stats.matching > 0 then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id)), '[]')
      from (select (%2$s) as dq_id from %3$s as dq_t where (%4$s) and (%5$s) and (%6$s) limit 5) matching
    $q$, dq.column_label(id_expr), id_expr, source, scope, scope_filter, violation)
      into sample;
  end if;

  details := jsonb_build_object('rows', stats.rows, 'matching', stats.matching,
                                'ratio', dq.ratio(stats.matching, stats.rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, scope);
  end if;
  return jsonb_build_object('value', stats.matching, 'details', details, 'sample', sample);
end
$$;

-- The indexes an incremental rows check needs (dq.index_advice).
create or replace function dq.kind_rows_indexes(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  column_sql text := spec #>> '{incremental,column}';
begin
  perform dq.expression_sql(dq.relation_sql(spec ->> 'table', 'table'), column_sql, 'incremental.column');
  return jsonb_build_array(
    jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql),
                       'purpose', 'find the rows changed since the last run'));
end
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
    end if;
  end loop;
end
$$;

alter default privileges in schema dq revoke execute on functions from public;

select dq.apply_grants();
