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
  -- Only what changes the measurement (27_unchanged.sql): editing a threshold
  -- keeps the watermark, editing a formula or a where clause forces a full run.
  spec_hash := dq.spec_hash(spec);

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
