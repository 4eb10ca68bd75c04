-- dq-monitor: the check engine. `dq.run_check(spec)` measures one check inside
-- the database and returns { value, details, sample }; the caller turns the
-- value into pass / warn / fail against the threshold.
--
-- Every function here only reads. Callers run each check in its own
-- READ ONLY transaction with a statement_timeout, so even an expression that
-- calls a writing function cannot change user data.
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

-- Plans a check without reading user rows: what `dq validate --db` calls.
-- VOLATILE because it sets a transaction-local setting.
create or replace function dq.validate_check(spec jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  result jsonb;
begin
  perform set_config('dq.validate_only', 'on', true);
  result := dq.run_check(spec);
  perform set_config('dq.validate_only', 'off', true);
  return jsonb_build_object('valid', true);
end
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

-- duplicates: rows beyond `maxPerKey` per key. NULLs group together, as GROUP BY
-- does (a unique index would let them through).
create or replace function dq.check_duplicates(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', false, true) || ' and ' || dq.scan_guard();
  max_per_key bigint := coalesce((spec ->> 'maxPerKey')::bigint, 1);
  id_column text := dq.expression_sql(source, spec ->> 'id', 'id', false);
  exprs text[];
  select_list text;
  group_list text;
  order_keys text;
  sample_object text;
  result jsonb;
begin
  if jsonb_typeof(spec -> 'columns') is distinct from 'array' or jsonb_array_length(spec -> 'columns') = 0 then
    raise exception using errcode = '22023',
      message = 'check field "columns" must be a non-empty array of column names or SQL expressions';
  end if;
  if max_per_key < 1 then
    raise exception using errcode = '22023', message = 'check field "maxPerKey" must be at least 1';
  end if;
  select array_agg(dq.expression_sql(source, c, format('columns[%s]', n - 1)) order by n)
    into exprs
  from jsonb_array_elements_text(spec -> 'columns') with ordinality as t(c, n);

  select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n),
         string_agg(n::text, ', ' order by n),
         string_agg(format('dq_k%s::text', n), ', ' order by n),
         string_agg(format('%L, dq_k%s', dq.column_label(e), n), ', ' order by n)
    into select_list, group_list, order_keys, sample_object
  from unnest(exprs) with ordinality as t(e, n);

  execute format($q$
    with g as (
      select %1$s, count(*) as dq_n
      from %2$s as dq_t
      where (%3$s)
      group by %4$s
    ),
    over_limit as (
      select * from g where dq_n > %5$s
    )
    select jsonb_build_object(
      'rows', coalesce((select sum(dq_n) from g), 0),
      'keys', (select count(*) from g),
      'groups', (select count(*) from over_limit),
      'extra_rows', coalesce((select sum(dq_n - %5$s) from over_limit), 0),
      'largest_group', coalesce((select max(dq_n) from g), 0),
      'max_per_key', %5$s,
      'sample', coalesce((
        select jsonb_agg(s.entry order by s.dq_n desc, s.ord)
        from (
          select jsonb_build_object(%6$s, 'rows', dq_n) as entry, dq_n,
                 row_number() over (order by dq_n desc, %7$s) as ord
          from over_limit
          order by dq_n desc, %7$s
          limit 5
        ) s
      ), '[]'::jsonb)
    )
  $q$, select_list, source, predicate, group_list, max_per_key, sample_object, order_keys)
  into result;

  -- Ids of the sampled groups' rows, only when asked for: it reads the table again.
  if id_column is not null and jsonb_array_length(result -> 'sample') > 0 then
    result := jsonb_set(result, '{sample}', dq.duplicate_sample_ids(source, predicate, exprs, id_column, result -> 'sample'));
  end if;

  return jsonb_build_object(
    'value', result -> 'extra_rows',
    'details', (result - 'sample') || jsonb_build_object(
      'unique_index', dq.has_unique_index((spec ->> 'table')::regclass, exprs)),
    'sample', result -> 'sample'
  );
end
$$;

-- Adds up to 5 row ids to each sampled duplicate group.
create or replace function dq.duplicate_sample_ids(source text, predicate text, exprs text[], id_column text, sample jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  entry jsonb;
  key_match text;
  ids jsonb;
  result jsonb := '[]'::jsonb;
begin
  for entry in select e from jsonb_array_elements(sample) e loop
    select string_agg(
      format('coalesce(to_jsonb((%s)), ''null''::jsonb) = %L::jsonb', e, entry -> dq.column_label(e)), ' and ')
      into key_match
    from unnest(exprs) e;
    execute format(
      'select coalesce(jsonb_agg(dq_id), ''[]'') from (select (%s) as dq_id from %s as dq_t where (%s) and %s order by 1 limit 5) s',
      id_column, source, predicate, key_match)
      into ids;
    result := result || jsonb_build_array(entry || jsonb_build_object('ids', ids));
  end loop;
  return result;
end
$$;

-- The one entry point: dispatches on spec->>'kind'.
create or replace function dq.run_check(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
begin
  if spec is null or jsonb_typeof(spec) <> 'object' then
    raise exception using errcode = '22023', message = 'check spec must be a JSON object';
  end if;
  -- Single flight: two runs of one check never overlap (HTTP answers 409).
  -- A transaction-scoped advisory lock works through every adapter,
  -- PostgREST included, and is released when the check's transaction ends.
  if spec ? 'name' and dq.scan_guard() = 'true'
     and not pg_try_advisory_xact_lock(hashtext('dq-monitor'), hashtext(spec ->> 'name')) then
    raise exception using errcode = 'DQ409',
      message = format('check "%s" is already running (another run holds it); try again when it finishes', spec ->> 'name');
  end if;
  case spec ->> 'kind'
    when 'duplicates' then return dq.check_duplicates(spec);
    when 'stale_keys' then return dq.check_stale_keys(spec);
    when 'trigger' then return dq.check_trigger(spec);
    when 'coverage_gap' then return dq.check_coverage_gap(spec);
    when 'raw_vs_enriched' then return dq.check_raw_vs_enriched(spec);
    else
      raise exception using errcode = '22023',
        message = format('unknown check kind "%s" (expected duplicates, stale_keys, trigger, coverage_gap or raw_vs_enriched)', spec ->> 'kind');
  end case;
end
$$;

-- stale_keys: stored derived key vs its canonical formula recomputed now, over
-- every row (the incident was a "fill the NULLs" backfill that never looked at
-- keys already set).
create or replace function dq.check_stale_keys(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  key_expr text := dq.expression_sql(source, spec ->> 'key', 'key');
  formula text := dq.expression_sql(source, spec ->> 'formula', 'formula');
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', false, true) || ' and ' || dq.scan_guard();
  stats record;
  sample jsonb := '[]'::jsonb;
  stale bigint;
begin
  -- OFFSET 0 keeps the subquery from being flattened into the aggregate, so the
  -- formula is computed once per row instead of once per FILTER clause.
  execute format($q$
    select count(*) as rows,
           count(*) filter (where dq_stored is not null and dq_expected is not null
                              and dq_stored is distinct from dq_expected) as mismatched,
           count(*) filter (where dq_stored is null and dq_expected is not null) as missing,
           count(*) filter (where dq_stored is not null and dq_expected is null) as unexpected
    from (select (%1$s) as dq_stored, (%2$s) as dq_expected from %3$s as dq_t where (%4$s) offset 0) s
  $q$, key_expr, formula, source, predicate)
  into stats;

  stale := stats.mismatched + stats.missing + stats.unexpected;
  if stale > 0 then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'stored', dq_stored, 'expected', dq_expected)), '[]')
      from (
        select dq_id, dq_stored, dq_expected
        from (select (%2$s) as dq_id, (%3$s) as dq_stored, (%4$s) as dq_expected
              from %5$s as dq_t where (%6$s) offset 0) s
        where dq_stored is distinct from dq_expected
        limit 5
      ) offenders
    $q$, dq.column_label(id_expr), id_expr, key_expr, formula, source, predicate)
    into sample;
  end if;

  return jsonb_build_object(
    'value', stale,
    'details', jsonb_build_object(
      'rows', stats.rows,
      'mismatched', stats.mismatched,
      'missing', stats.missing,
      'unexpected', stats.unexpected,
      'ratio', dq.ratio(stale, stats.rows)),
    'sample', sample);
end
$$;

-- trigger: every target table must have a matching, enabled user trigger.
-- Targets are one `table`, or every table in `schemas` that has `column`.
-- Internal triggers (foreign keys) never count; a clone of a partitioned
-- parent's trigger does. tgenabled O (origin) and A (always) fire in a normal
-- session; D (disabled) and R (replica only) do not. Trigger and function
-- names match as stored or as SQL reads them: "SetStamp" quoted keeps its
-- case, Set_Stamp unquoted folds to set_stamp.
create or replace function dq.check_trigger(spec jsonb)
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

-- coverage_gap: source rows whose key has no target row. NOT EXISTS lets the
-- planner use an anti-join (and the target's index on the key when there is one).
create or replace function dq.check_coverage_gap(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec #>> '{source,table}', 'source.table');
  source_key text := dq.expression_sql(source, spec #>> '{source,key}', 'source.key');
  source_where text := dq.expression_sql(source, spec #>> '{source,where}', 'source.where', false, true)
                       || ' and ' || dq.scan_guard();
  target text := dq.relation_sql(spec #>> '{target,table}', 'target.table');
  target_key text := dq.expression_sql(target, spec #>> '{target,key}', 'target.key');
  target_where text := dq.expression_sql(target, spec #>> '{target,where}', 'target.where', false, true);
  missing_rows text;
  source_rows bigint;
  missing bigint;
  sample jsonb := '[]'::jsonb;
begin
  -- The source key is computed in its own scope, so a column name that exists
  -- in both tables still binds to the source.
  missing_rows := format($q$
    select dq_s.dq_key
    from (select (%1$s) as dq_key from %2$s as dq_src where (%3$s)) dq_s
    where not exists (
      select 1 from %4$s as dq_tgt where (%5$s) = dq_s.dq_key and (%6$s))
  $q$, source_key, source, source_where, target, target_key, target_where);

  execute format('select count(*) from %s as dq_src where (%s)', source, source_where) into source_rows;
  execute format('select count(*) from (%s) m', missing_rows) into missing;
  if missing > 0 then
    execute format('select coalesce(jsonb_agg(jsonb_build_object(%L, dq_key)), ''[]'') from (%s limit 5) m',
      dq.column_label(source_key), missing_rows)
      into sample;
  end if;

  return jsonb_build_object(
    'value', missing,
    'details', jsonb_build_object(
      'source_rows', source_rows,
      'missing', missing,
      'ratio', dq.ratio(missing, source_rows)),
    'sample', sample);
end
$$;

-- raw_vs_enriched: how many raw rows never produced an enriched row, split from
-- the expected collapse of several raw rows into one enriched row per key.
-- With `time`, only raw rows in [now() - window, now() - grace) count: younger
-- rows may still be in flight.
create or replace function dq.check_raw_vs_enriched(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  raw text := dq.relation_sql(spec #>> '{raw,table}', 'raw.table');
  raw_key text := dq.expression_sql(raw, spec #>> '{raw,key}', 'raw.key');
  raw_time text := dq.expression_sql(raw, spec #>> '{raw,time}', 'raw.time', false);
  raw_where text := dq.expression_sql(raw, spec #>> '{raw,where}', 'raw.where', false, true)
                    || ' and ' || dq.scan_guard();
  enriched text := dq.relation_sql(spec #>> '{enriched,table}', 'enriched.table');
  enriched_key text := dq.expression_sql(enriched, spec #>> '{enriched,key}', 'enriched.key');
  enriched_where text := dq.expression_sql(enriched, spec #>> '{enriched,where}', 'enriched.where', false, true);
  window_start interval := dq.interval_value(spec ->> 'window', 'window');
  grace interval := dq.interval_value(spec ->> 'grace', 'grace');
  time_filter text := 'true';
  result jsonb;
begin
  if raw_time is null and (window_start is not null or grace is not null) then
    raise exception using errcode = '22023',
      message = 'check fields "window" and "grace" need "raw.time" (the column that says when a raw row arrived)';
  end if;
  if raw_time is not null then
    time_filter := format('(%1$s) >= now() - %2$L::interval and (%1$s) < now() - %3$L::interval',
      raw_time, coalesce(window_start, interval '100 years'), coalesce(grace, interval '0'));
  end if;

  execute format($q$
    with raw_keys as materialized (
      select (%1$s) as dq_key, count(*) as dq_n
      from %2$s as dq_raw
      where (%3$s) and (%4$s)
      group by 1
    ),
    lost as materialized (
      select r.dq_key, r.dq_n from raw_keys r
      where r.dq_key is not null
        and not exists (select 1 from %5$s as dq_enr where (%6$s) = r.dq_key and (%7$s))
    ),
    totals as (
      select coalesce(sum(dq_n), 0) as raw_rows,
             count(dq_key) as distinct_keys,
             coalesce(sum(dq_n) filter (where dq_key is null), 0) as null_key_rows
      from raw_keys
    ),
    losses as (
      select count(*) as lost_keys, coalesce(sum(dq_n), 0) as lost_key_rows from lost
    )
    select jsonb_build_object(
      'value', lost_key_rows + null_key_rows,
      'details', jsonb_build_object(
        'raw_rows', raw_rows,
        'distinct_keys', distinct_keys,
        'null_key_rows', null_key_rows,
        'collapsed', raw_rows - distinct_keys - null_key_rows,
        'matched_keys', distinct_keys - lost_keys,
        'lost_keys', lost_keys,
        'lost_rows', lost_key_rows + null_key_rows,
        'ratio', dq.ratio(lost_key_rows + null_key_rows, raw_rows)),
      'sample', coalesce((
        select jsonb_agg(s.j order by s.ord) from (
          select jsonb_build_object(%8$L, dq_key, 'rows', dq_n) as j,
                 row_number() over (order by dq_key is null, dq_n desc, dq_key::text) as ord
          from (select dq_key, dq_n from lost
                union all
                select null, null_key_rows from totals where null_key_rows > 0) l
          order by ord limit 5) s), '[]'))
    from totals, losses
  $q$, raw_key, raw, raw_where, time_filter, enriched, enriched_key, enriched_where, dq.column_label(raw_key))
  into result;
  return result;
end
$$;
