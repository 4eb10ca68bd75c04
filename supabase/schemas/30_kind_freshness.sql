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
