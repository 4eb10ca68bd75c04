-- dq-monitor migration "add_required_fields_freshness_rows", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/20_helpers.sql =====

-- dq-monitor: helpers every check kind shares. They only read.
--
-- SQL text in a spec (table, columns, key, formula, where) is trusted catalog
-- configuration, reviewed like code; it is still checked to be one expression
-- (no ";", no comments), tables resolve through regclass and identifiers we
-- build are quoted with format('%I').

-- A SQL fragment from the spec, checked to be a single expression.
-- `field` is the spec path shown in errors, e.g. "columns[1]" or "source.key".
create or replace function dq.sql_fragment(fragment text, field text, required boolean default true)
returns text
language plpgsql
immutable
set search_path = pg_catalog
as $$
begin
  if fragment is null or btrim(fragment) = '' then
    if required then
      raise exception using errcode = '22023',
        message = format('check field "%s" is required', field);
    end if;
    return null;
  end if;
  if strpos(fragment, ';') > 0 or strpos(fragment, '--') > 0 or strpos(fragment, '/*') > 0 then
    raise exception using errcode = '42601',
      message = format('check field "%s" must be a single SQL expression (no ";" and no comments): %s', field, fragment);
  end if;
  return fragment;
end
$$;

-- The schema-qualified, quoted name of the relation named in `field`.
-- Raises the database's own "relation ... does not exist" when it does not.
create or replace function dq.relation_sql(name text, field text)
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  rel regclass;
  result text;
begin
  perform dq.sql_fragment(name, field);
  begin
    rel := name::regclass;
  exception when others then
    raise exception using errcode = sqlstate, message = format('check field "%s": %s', field, sqlerrm);
  end;
  select format('%I.%I', n.nspname, c.relname) into result
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.oid = rel;
  return result;
end
$$;

-- "x" -> x, x -> x, anything else (an expression) unchanged: the label a key
-- column gets in samples.
create or replace function dq.column_label(expr text)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select case
    when btrim(expr) ~ '^"([^"]|"")+"$' then replace(substr(btrim(expr), 2, length(btrim(expr)) - 2), '""', '"')
    when btrim(expr) ~ '^[A-Za-z_][A-Za-z0-9_$]*$' then lower(btrim(expr))
    else btrim(expr)
  end
$$;

-- An expression or predicate from the spec, checked against its table: a
-- column that does not exist or a type error is reported with the field it
-- came from. Planning `... where false` reads no rows.
create or replace function dq.expression_sql(source text, fragment text, field text,
                                             required boolean default true, is_predicate boolean default false)
returns text
language plpgsql
stable
as $$
declare
  expr text := dq.sql_fragment(fragment, field, required);
begin
  if expr is null then
    return case when is_predicate then 'true' end;
  end if;
  begin
    if is_predicate then
      execute format('select 1 from %s as dq_t where (%s) and false', source, expr);
    else
      execute format('select (%s) from %s as dq_t where false', expr, source);
    end if;
  exception when others then
    raise exception using errcode = sqlstate,
      message = format('check field "%s": %s', field, sqlerrm);
  end;
  return expr;
end
$$;

-- 'false' while `dq.validate_check` plans a check, else 'true': ANDed into
-- every scan so that validation parses and plans the real queries but reads
-- no rows.
create or replace function dq.scan_guard()
returns text
language sql
stable
as $$
  select case when current_setting('dq.validate_only', true) = 'on' then 'false' else 'true' end
$$;

-- An interval from the spec ("24 hours"), naming the field when it is not one.
create or replace function dq.interval_value(value text, field text)
returns interval
language plpgsql
stable
as $$
begin
  return value::interval;
exception when others then
  raise exception using errcode = sqlstate, message = format('check field "%s": %s', field, sqlerrm);
end
$$;

-- Ratio that never divides by zero.
create or replace function dq.ratio(part numeric, total numeric)
returns numeric
language sql
immutable
set search_path = pg_catalog
as $$
  select case when coalesce(total, 0) = 0 then 0 else round(part / total, 6) end
$$;

-- A deparsed expression with the SQL-syntax spellings of trim() (how
-- PostgreSQL 14+ deparses `trim(x)`) rewritten as the plain calls they are, so
-- that `trim(x)` and `btrim(x)` compare equal.
create or replace function dq.canonical_expression(expr text)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select regexp_replace(regexp_replace(regexp_replace(expr,
    '\mTRIM\(BOTH FROM ', 'btrim(', 'g'),
    '\mTRIM\(LEADING FROM ', 'ltrim(', 'g'),
    '\mTRIM\(TRAILING FROM ', 'rtrim(', 'g')
$$;

-- Does a unique index (or constraint) on `rel` cover exactly `exprs`?
-- Compares the index's deparsed columns with the deparsed check expressions
-- (EXPLAIN VERBOSE deparses them the same way), so `lower(trim(title))` matches
-- an index on lower(btrim(title)) spelled either way. Partial indexes do not
-- cover the whole table and do not count. A partitioned table's unique index
-- covers its partitions (it must include the partition key); an inheritance
-- parent's does not cover its children, so it does not count.
-- The EXPLAIN reads `only` the relation: a partitioned table then plans as one
-- relation whose output is unqualified, instead of an Append of its partitions.
-- VOLATILE only because PL/pgSQL refuses EXPLAIN in a non-volatile function;
-- it reads the catalog and nothing else.
create or replace function dq.has_unique_index(rel regclass, exprs text[])
returns boolean
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  plan jsonb;
  wanted text[];
  found boolean;
begin
  if exprs is null or cardinality(exprs) = 0 then
    return false;
  end if;
  if not exists (select 1 from pg_index i where i.indrelid = rel and i.indisunique and i.indpred is null) then
    return false;
  end if;
  if exists (select 1 from pg_class c where c.oid = rel and c.relkind <> 'p')
     and exists (select 1 from pg_inherits h where h.inhparent = rel) then
    return false;
  end if;
  execute format('explain (verbose, format json) select %s from only %s as dq_t',
    (select string_agg(format('(%s)', e), ', ') from unnest(exprs) e), rel::text)
    into plan;
  select array_agg(distinct dq.canonical_expression(replace(o, 'dq_t.', ''))) into wanted
  from jsonb_array_elements_text(plan -> 0 -> 'Plan' -> 'Output') o;
  if wanted is null then
    return false;
  end if;

  select exists (
    select 1
    from pg_index i
    where i.indrelid = rel and i.indisunique and i.indpred is null and i.indisvalid
      and (
        select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
        from generate_series(1, i.indnkeyatts) k
      ) operator(pg_catalog.@>) wanted
      and wanted operator(pg_catalog.@>) (
        select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
        from generate_series(1, i.indnkeyatts) k
      )
  ) into found;
  return found;
end
$$;

-- The type of an expression over `source`, from the plan alone (no row read).
create or replace function dq.expression_type(source text, expr text)
returns regtype
language plpgsql
stable
as $$
declare
  found regtype;
begin
  execute format('select pg_typeof((select (%s) from %s as dq_t limit 0))', expr, source) into found;
  return found;
end
$$;

-- The deparsed form of expressions over `rel` (EXPLAIN VERBOSE spells them
-- the way pg_get_indexdef does), so that an index can be matched however the
-- catalog spells its columns. VOLATILE only because PL/pgSQL refuses EXPLAIN
-- in a non-volatile function; it reads the catalog and nothing else.
create or replace function dq.deparsed_expressions(rel regclass, exprs text[])
returns text[]
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  plan jsonb;
  result text[];
begin
  execute format('explain (verbose, format json) select %s from only %s as dq_t',
    (select string_agg(format('(%s)', e), ', ') from unnest(exprs) e), rel::text)
    into plan;
  select array_agg(distinct dq.canonical_expression(replace(o, 'dq_t.', ''))) into result
  from jsonb_array_elements_text(plan -> 0 -> 'Plan' -> 'Output') o;
  return result;
end
$$;

-- Does a valid, non-partial B-tree index on `rel` start with exactly these
-- expressions (in any order)? That is what an equality lookup on all of them,
-- or a range scan on one, can use.
create or replace function dq.has_leading_index(rel regclass, exprs text[])
returns boolean
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  wanted text[] := dq.deparsed_expressions(rel, exprs);
begin
  return exists (
    select 1
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_am am on am.oid = ic.relam
    where i.indrelid = rel and i.indisvalid and i.indpred is null and am.amname = 'btree'
      and i.indnkeyatts >= cardinality(wanted)
      and (select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
           from generate_series(1, cardinality(wanted)) k) operator(pg_catalog.@>) wanted
      and wanted operator(pg_catalog.@>)
          (select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
           from generate_series(1, cardinality(wanted)) k));
end
$$;

-- The incremental plan of a check, or NULL when it has no `incremental`.
-- Reads the check's latest successful result (by spec->>'name') in
-- dq.results: a full run happens when there is none, when it has no
-- watermark, when the check's definition changed since (spec_hash), or when
-- the last full run is `fullEvery` old; otherwise the run covers rows with
-- `column >= watermark - lookback`. The lookback (default 10 minutes)
-- re-reads rows written by transactions that were still open at the last run:
-- their updated_at is older than the watermark they commit after.
-- Returns { scope, filter (SQL predicate, 'true' on full runs), column, type,
-- since, full_at, spec_hash, previous_watermark }.
create or replace function dq.incremental_plan(spec jsonb, source text, field text default 'incremental')
returns jsonb
language plpgsql
stable
as $$
declare
  settings jsonb := spec -> 'incremental';
  column_sql text;
  column_type regtype;
  full_every interval;
  lookback interval;
  spec_hash text;
  previous jsonb;
  watermark jsonb;
  full_at timestamptz;
  since jsonb;
begin
  if settings is null or jsonb_typeof(settings) = 'null' then
    return null;
  end if;
  if jsonb_typeof(settings) <> 'object' then
    raise exception using errcode = '22023',
      message = format('check field "%s" must be an object { column, fullEvery?, lookback? }', field);
  end if;
  column_sql := dq.expression_sql(source, settings ->> 'column', field || '.column');
  column_type := dq.expression_type(source, column_sql);
  if column_type not in ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) then
    raise exception using errcode = '42804',
      message = format('check field "%s.column": %s is %s; incremental runs need a timestamp or date column that every write moves forward (e.g. updated_at)',
        field, column_sql, format_type(column_type, null));
  end if;
  full_every := coalesce(dq.interval_value(settings ->> 'fullEvery', field || '.fullEvery'), interval '24 hours');
  lookback := coalesce(dq.interval_value(settings ->> 'lookback', field || '.lookback'), interval '10 minutes');
  -- Only what changes the measurement: editing a threshold or an owner keeps
  -- the watermark, editing a formula or a where clause forces a full run.
  spec_hash := md5((spec - array['name', 'description', 'threshold', 'severity', 'owner', 'tags',
                                 'schedule', 'timeoutSeconds', 'enabled', 'repeatInterval'])::text);

  select r.details into previous
  from dq.results r
  where r.check_name = spec ->> 'name' and r.status <> 'error'
  order by r.id desc -- recording order: a client clock running ahead cannot pin it
  limit 1;

  watermark := previous -> 'watermark';
  full_at := (previous ->> 'full_at')::timestamptz;
  if previous is null or previous ->> 'spec_hash' is distinct from spec_hash
     or watermark is null or jsonb_typeof(watermark) = 'null' or full_at is null
     -- A little slack, so that an hourly schedule's daily full run does not
     -- slip by an hour because this tick came a few seconds early.
     or now() >= full_at + full_every - least(full_every / 20, interval '10 minutes') then
    return jsonb_build_object('scope', 'full', 'filter', 'true', 'column', column_sql,
      'type', format_type(column_type, null), 'since', null, 'full_at', to_jsonb(now()),
      'spec_hash', spec_hash, 'previous_watermark', watermark);
  end if;

  execute format('select to_jsonb((%L::%s - %L::interval)::%s)',
    watermark #>> '{}', column_type, lookback, column_type) into since;
  return jsonb_build_object('scope', 'incremental',
    'filter', format('(%s) >= %L::%s', column_sql, since #>> '{}', column_type),
    'column', column_sql, 'type', format_type(column_type, null), 'since', since,
    'full_at', to_jsonb(full_at), 'spec_hash', spec_hash, 'previous_watermark', watermark);
end
$$;

-- The bookkeeping an incremental check adds to its details: scope, since,
-- the new watermark (the newest `column` value among the rows this run
-- covered, never in the future, else the previous one), full_at and
-- spec_hash. The max comes from the column's index (a backward scan that
-- stops at the first row), not from another pass over the table.
create or replace function dq.incremental_details(plan jsonb, source text, predicate text)
returns jsonb
language plpgsql
stable
as $$
declare
  watermark jsonb;
begin
  execute format('select to_jsonb(max(%1$s)) from %2$s as dq_t where (%3$s) and (%4$s) and (%1$s) <= now()',
    plan ->> 'column', source, predicate, plan ->> 'filter')
    into watermark;
  if watermark is null or jsonb_typeof(watermark) = 'null' then
    watermark := coalesce(plan -> 'previous_watermark', 'null'::jsonb);
  end if;
  return jsonb_build_object(
    'scope', plan -> 'scope', 'since', plan -> 'since', 'watermark', watermark,
    'full_at', plan -> 'full_at', 'spec_hash', plan -> 'spec_hash');
end
$$;

-- The index an incremental check over one table needs (what its
-- dq.kind_<kind>_indexes returns for dq.index_advice): its `incremental.column`,
-- to find the rows changed since the last run.
create or replace function dq.changed_rows_index(spec jsonb)
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

-- The index an incremental required_fields check needs (dq.index_advice).
create or replace function dq.kind_required_fields_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
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

-- The index an incremental rows check needs (dq.index_advice).
create or replace function dq.kind_rows_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
$$;

-- ===== supabase/schemas/30_kind_stale_keys.sql =====

-- dq-monitor: the stale_keys kind (checks/kinds/stale_keys).

-- stale_keys: stored derived key vs its canonical formula recomputed now.
-- The formula is evaluated once per row in a scan that keeps its parallel
-- workers: the three counts are packed into one sum (missing x 1, unexpected
-- x 2^31, mismatched x 2^62; sum() of bigint accumulates in 128 bits), because
-- a FILTER clause per count would evaluate the formula once per clause, and a
-- subquery fence (OFFSET 0) that evaluates it once runs without workers.
-- With `sample`, an estimate from TABLESAMPLE instead (dq.stale_keys_sampled).
create or replace function dq.kind_stale_keys(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  key_expr text := dq.expression_sql(source, spec ->> 'key', 'key');
  formula text := dq.expression_sql(source, spec ->> 'formula', 'formula');
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true) || ' and ' || dq.scan_guard();
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  stats record;
  mismatched numeric;
  unexpected numeric;
  missing numeric;
  sample jsonb := '[]'::jsonb;
  stale bigint;
  details jsonb;
begin
  if spec ? 'sample' and jsonb_typeof(spec -> 'sample') <> 'null' then
    if plan is not null then
      raise exception using errcode = '22023',
        message = 'check fields "sample" and "incremental" do not go together: a sample estimates the whole table, an incremental run checks changed rows exactly';
    end if;
    return dq.stale_keys_sampled(spec, source, key_expr, formula, id_expr, predicate);
  end if;
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format($q$
    select count(*) as rows,
           coalesce(sum(case when (%1$s) is null then num_nonnulls((%2$s))::bigint
                             else coalesce((not ((%2$s) = (%1$s)))::int::bigint * 4611686018427387904, 2147483648)
                        end), 0) as packed
    from %3$s as dq_t where (%4$s) and (%5$s)
  $q$, key_expr, formula, source, predicate, scope_filter)
  into stats;

  if stats.rows < 2147483648 then
    mismatched := div(stats.packed, 4611686018427387904);
    unexpected := div(stats.packed - mismatched * 4611686018427387904, 2147483648);
    missing := stats.packed - mismatched * 4611686018427387904 - unexpected * 2147483648;
  else
    -- 2^31 rows or more could carry one packed count into the next: count
    -- them one FILTER each (the formula evaluated per clause) instead.
    execute format($q$
      select count(*) filter (where (%1$s) is not null and (%2$s) is not null and (%1$s) <> (%2$s)),
             count(*) filter (where (%1$s) is null and (%2$s) is not null),
             count(*) filter (where (%1$s) is not null and (%2$s) is null)
      from %3$s as dq_t where (%4$s) and (%5$s)
    $q$, key_expr, formula, source, predicate, scope_filter)
    into mismatched, missing, unexpected;
  end if;

  stale := mismatched + missing + unexpected;
  if stale > 0 then
    -- Stops at the 5th offender: a single row when stale keys are common.
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'stored', dq_stored, 'expected', dq_expected)), '[]')
      from (
        select (%2$s) as dq_id, (%3$s) as dq_stored, (%4$s) as dq_expected
        from %5$s as dq_t
        where (%6$s) and (%7$s) and (%3$s) is distinct from (%4$s)
        limit 5
      ) offenders
    $q$, dq.column_label(id_expr), id_expr, key_expr, formula, source, predicate, scope_filter)
    into sample;
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'mismatched', mismatched, 'missing', missing, 'unexpected', unexpected,
    'ratio', dq.ratio(stale, stats.rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
  end if;
  return jsonb_build_object('value', stale, 'details', details, 'sample', sample);
end
$$;

-- stale_keys with `sample: { percent }`: reads about `percent` % of the
-- table's pages (TABLESAMPLE SYSTEM) and scales the counts up. The error
-- bound is a 95 % confidence half-width for the ratio, from the spread
-- between sampled pages (rows on one page are not independent: a binomial
-- bound over rows would be too narrow). The pages are chosen from the
-- transaction's start time, so a run's counts and offenders agree.
create or replace function dq.stale_keys_sampled(spec jsonb, source text, key_expr text, formula text,
                                                 id_expr text, predicate text)
returns jsonb
language plpgsql
stable
as $$
declare
  percent numeric;
  seed bigint := (extract(epoch from now()) * 1000)::bigint % 2147483647;
  sampling text;
  stats record;
  scale numeric;
  ratio numeric;
  variance numeric;
  error_bound numeric;
  sample jsonb := '[]'::jsonb;
begin
  begin
    percent := (spec #>> '{sample,percent}')::numeric;
  exception when others then
    percent := null;
  end;
  if percent is null or percent <= 0 or percent > 100 then
    raise exception using errcode = '22023',
      message = format('check field "sample.percent" must be a number above 0 and at most 100, got %s', coalesce(spec #>> '{sample,percent}', 'nothing'));
  end if;
  if exists (select 1 from pg_class c where c.oid = (spec ->> 'table')::regclass and c.relkind not in ('r', 'p', 'm')) then
    raise exception using errcode = '22023',
      message = format('check field "sample": TABLESAMPLE reads a table''s pages, and "%s" is a view or a foreign table: sample the table under it, or drop "sample"', spec ->> 'table');
  end if;
  sampling := format('%s as dq_t tablesample system (%s) repeatable (%s)', source, percent, seed);

  execute format($q$
    with pages as (
      select count(*) as n,
             coalesce(sum(case when (%1$s) is null then num_nonnulls((%2$s))::bigint
                               else coalesce((not ((%2$s) = (%1$s)))::int::bigint * 4611686018427387904, 2147483648)
                          end), 0) as packed
      from %3$s
      where (%4$s)
      group by dq_t.tableoid, (dq_t.ctid::text::point)[0]
    ),
    split as (
      select n, div(packed, 4611686018427387904) as mismatched,
             div(mod(packed, 4611686018427387904), 2147483648) as unexpected,
             mod(packed, 2147483648) as missing
      from pages
    )
    select count(*) as pages, coalesce(sum(n), 0) as rows,
           coalesce(sum(mismatched), 0) as mismatched, coalesce(sum(missing), 0) as missing,
           coalesce(sum(unexpected), 0) as unexpected,
           coalesce(sum((mismatched + missing + unexpected) ^ 2), 0) as yy,
           coalesce(sum((mismatched + missing + unexpected) * n), 0) as xy,
           coalesce(sum(n ^ 2), 0) as xx
    from split
  $q$, key_expr, formula, sampling, predicate)
  into stats;

  scale := 100 / percent;
  ratio := case when stats.rows = 0 then 0
                else (stats.mismatched + stats.missing + stats.unexpected) / stats.rows end;
  if stats.pages >= 2 and stats.rows > 0 then
    -- Ratio estimator over pages (clusters): n/(n-1) * sum((y - r x)^2) / (sum x)^2, with the
    -- finite-population correction (1 - f).
    variance := (1 - percent / 100) * stats.pages / (stats.pages - 1)
                * greatest(stats.yy - 2 * ratio * stats.xy + ratio ^ 2 * stats.xx, 0) / stats.rows ^ 2;
    error_bound := round(1.96 * sqrt(variance), 6);
  end if;

  if stats.mismatched + stats.missing + stats.unexpected > 0 then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'stored', dq_stored, 'expected', dq_expected)), '[]')
      from (
        select (%2$s) as dq_id, (%3$s) as dq_stored, (%4$s) as dq_expected
        from %5$s
        where (%6$s) and (%3$s) is distinct from (%4$s)
        limit 5
      ) offenders
    $q$, dq.column_label(id_expr), id_expr, key_expr, formula, sampling, predicate)
    into sample;
  end if;

  return jsonb_build_object(
    -- The sum of the parts as shown, so value and split always agree.
    'value', round(stats.mismatched * scale) + round(stats.missing * scale) + round(stats.unexpected * scale),
    'details', jsonb_build_object(
      'rows', round(stats.rows * scale),
      'mismatched', round(stats.mismatched * scale),
      'missing', round(stats.missing * scale),
      'unexpected', round(stats.unexpected * scale),
      'ratio', round(ratio, 6),
      'scope', 'sample',
      'sample_percent', percent,
      'sampled_rows', stats.rows,
      'sampled_pages', stats.pages,
      'ratio_error', error_bound),
    'sample', sample);
end
$$;

-- The index an incremental stale_keys check needs (dq.index_advice).
create or replace function dq.kind_stale_keys_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
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
