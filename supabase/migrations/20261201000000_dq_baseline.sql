-- dq-monitor migration "dq_baseline", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/00_schema.sql =====

-- dq-monitor: schema dq.
--
-- supabase/schemas holds the one current definition of every dq object,
-- applied in lexical order: the schema, retired objects, history, shared
-- helpers, the check entry points, one file per check kind, alerts, grants.
-- Every file is idempotent (create ... if not exists, create or replace), so
-- a migration may carry a whole file. supabase/migrations is generated from
-- these files (npm run migration -- new NAME FILE...); test/schemas.test.ts
-- proves that both build the same database.

create schema if not exists dq;
comment on schema dq is 'dq-monitor: data-quality checks, their run history and alert state';

-- ===== supabase/schemas/01_retired.sql =====

-- dq-monitor: objects that no longer exist. A database migrated by an earlier
-- version loses them here; a new one never had them.

-- 0.1.0's check functions, before each kind became dq.kind_<kind>(spec).
drop function if exists dq.check_duplicates(jsonb);
drop function if exists dq.check_stale_keys(jsonb);
drop function if exists dq.check_trigger(jsonb);
drop function if exists dq.check_coverage_gap(jsonb);
drop function if exists dq.check_raw_vs_enriched(jsonb);
-- Replaced by dq.duplicate_group_ids (one scan for every sampled group).
drop function if exists dq.duplicate_sample_ids(text, text, text[], text, jsonb);

-- ===== supabase/schemas/10_history.sql =====

-- dq-monitor: run history. dq.runs has one row per run (cron tick, HTTP
-- request or CLI invocation), dq.results one row per check result in the
-- result contract's shape.

create table if not exists dq.runs (
  id uuid primary key,
  trigger text not null check (trigger in ('cron', 'http', 'cli')),
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  duration_ms integer not null check (duration_ms >= 0),
  -- cron expression + scheduled time: the same tick delivered twice records one run
  idempotency_key text unique,
  counts jsonb not null default '{}'::jsonb,
  completed boolean not null default true
);
comment on column dq.runs.completed is
  'false from dq.claim_run until dq.record_run stores the results (a run in progress, or one that died)';

create table if not exists dq.results (
  id bigint generated always as identity primary key,
  run_id uuid not null references dq.runs (id) on delete cascade,
  check_name text not null,
  kind text not null,
  status text not null check (status in ('pass', 'warn', 'fail', 'error')),
  value numeric,
  threshold jsonb not null,
  details jsonb not null default '{}'::jsonb,
  sample jsonb not null default '[]'::jsonb,
  error text,
  duration_ms integer not null check (duration_ms >= 0),
  trigger text not null check (trigger in ('cron', 'http', 'cli')),
  started_at timestamptz not null,
  recorded_at timestamptz not null default now(),
  severity text check (severity in ('info', 'warning', 'critical')),
  owner text,
  -- why a check could not run, as a code (check_running, timeout, ...)
  error_code text
);
-- Added after 0.1.0 (no-ops on a new database).
alter table dq.results add column if not exists severity text check (severity in ('info', 'warning', 'critical'));
alter table dq.results add column if not exists owner text;
alter table dq.results add column if not exists error_code text;

-- Serves both "history of one check" and "latest result per check"
-- (distinct on (check_name) ... order by check_name, started_at desc).
create index if not exists results_check_started_idx
  on dq.results (check_name, started_at desc, id desc);
create index if not exists results_run_idx on dq.results (run_id);
create index if not exists runs_started_idx on dq.runs (started_at desc);

-- A scheduled tick is claimed before its checks run: the same tick delivered
-- twice (or two triggers firing in the same minute) must not run the checks
-- twice. The Worker claims the tick's idempotency key and runs only when it
-- got it; dq.record_run then completes the claimed row.
create or replace function dq.claim_run(run jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  claimed uuid;
begin
  insert into dq.runs (id, trigger, started_at, duration_ms, idempotency_key, completed)
  values ((run ->> 'run_id')::uuid, run ->> 'trigger', (run ->> 'started_at')::timestamptz, 0,
          run ->> 'idempotency_key', false)
  on conflict do nothing
  returning id into claimed;
  return jsonb_build_object('claimed', claimed is not null, 'run_id', claimed);
end
$$;

-- Records a run and its results (the result contract's JSON), or completes a
-- run claimed by dq.claim_run (same id and key, not yet completed). With an
-- idempotency_key already recorded it records nothing and says so.
create or replace function dq.record_run(run jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  recorded uuid;
  status_counts jsonb := coalesce((
    select jsonb_object_agg(status, n)
    from (select r ->> 'status' as status, count(*) as n
          from jsonb_array_elements(run -> 'results') r group by 1) c
  ), '{}'::jsonb);
begin
  insert into dq.runs (id, trigger, started_at, duration_ms, idempotency_key, counts)
  values ((run ->> 'run_id')::uuid, run ->> 'trigger', (run ->> 'started_at')::timestamptz,
          (run ->> 'duration_ms')::integer, run ->> 'idempotency_key', status_counts)
  on conflict do nothing
  returning id into recorded;

  if recorded is null then
    update dq.runs
       set duration_ms = (run ->> 'duration_ms')::integer, counts = status_counts,
           finished_at = now(), completed = true
     where id = (run ->> 'run_id')::uuid
       and not completed
       and idempotency_key is not distinct from run ->> 'idempotency_key'
    returning id into recorded;
  end if;

  if recorded is null then
    return jsonb_build_object('recorded', false, 'run_id', null);
  end if;

  insert into dq.results (run_id, check_name, kind, status, value, threshold, details, sample,
                          error, duration_ms, trigger, started_at, severity, owner, error_code)
  select recorded, r ->> 'check', r ->> 'kind', r ->> 'status', (r ->> 'value')::numeric,
         coalesce(r -> 'threshold', '{}'::jsonb), coalesce(r -> 'details', '{}'::jsonb),
         coalesce(r -> 'sample', '[]'::jsonb), r ->> 'error',
         coalesce((r ->> 'duration_ms')::integer, 0), run ->> 'trigger', (run ->> 'started_at')::timestamptz,
         r ->> 'severity', r ->> 'owner', r ->> 'error_code'
  from jsonb_array_elements(run -> 'results') with ordinality as t(r, ord)
  order by ord;

  return jsonb_build_object('recorded', true, 'run_id', recorded);
end
$$;

-- One stored result as the result contract's JSON, with its run.
create or replace function dq.result_json(r dq.results)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'check', r.check_name, 'kind', r.kind, 'status', r.status,
    'severity', r.severity, 'owner', r.owner, 'value', r.value,
    'threshold', r.threshold, 'details', r.details, 'sample', r.sample,
    'duration_ms', r.duration_ms, 'error', r.error, 'error_code', r.error_code,
    'run_id', r.run_id, 'trigger', r.trigger, 'started_at', r.started_at)
$$;

-- A check's results, newest first.
create or replace function dq.check_history(check_name text, max_results integer default 20)
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_agg(dq.result_json(h) order by h.started_at desc, h.id desc), '[]'::jsonb)
  from (
    select * from dq.results r
    where r.check_name = check_history.check_name
    order by r.started_at desc, r.id desc
    limit greatest(least(coalesce(max_results, 20), 1000), 1)
  ) h
$$;

-- The latest result of each of these checks (all checks when null).
create or replace function dq.latest_results(check_names text[] default null)
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_object_agg(l.check_name, dq.result_json(l)), '{}'::jsonb)
  from (
    select distinct on (r.check_name) r.*
    from dq.results r
    where check_names is null or r.check_name = any (check_names)
    order by r.check_name, r.started_at desc, r.id desc
  ) l
$$;

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

-- ===== supabase/schemas/25_entry_points.sql =====

-- dq-monitor: the entry points. dq.run_check(spec) measures one check and
-- returns { value, details, sample }; the caller turns the value into pass /
-- warn / fail. It dispatches on spec->>'kind' to dq.kind_<kind>(spec), one
-- function per kind in 30_kind_<kind>.sql: adding a kind adds a function, and
-- nothing here changes.
--
-- Callers run each check in its own READ ONLY transaction with a
-- statement_timeout, so even an expression that calls a writing function
-- cannot change user data.
--
-- The SET clauses are for the Supabase API (PostgREST 12.2+), where a request
-- cannot choose its own statement_timeout but a function's own setting is
-- applied to its call: 55 s, under the API's 60 s request limit, so a slow
-- check ends with PostgreSQL's "canceling statement due to statement timeout"
-- rather than a gateway error. Change it for your project with
--   alter function dq.run_check(jsonb) set statement_timeout = '20s';
-- Direct connections keep each check's own timeoutSeconds: they set
-- statement_timeout before the call, and a function's SET does not re-arm the
-- timer of the statement already running. lock_timeout is checked at every
-- lock wait, so its SET applies on every path (LOCK_TIMEOUT_MS in kernel/port.ts).

-- The function of a spec's kind, dq.kind_<kind><suffix>(jsonb), as SQL text
-- to call; null when that function does not exist (an error for the kind's
-- own function: the kind is unknown).
create or replace function dq.resolve_kind(spec jsonb, suffix text default '')
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  kind text := spec ->> 'kind';
  found regprocedure;
begin
  if kind ~ '^[a-z][a-z0-9_]*$' then
    found := to_regprocedure(format('dq.%I(jsonb)', 'kind_' || kind || suffix));
  end if;
  if found is not null then
    return format('dq.%I', 'kind_' || kind || suffix);
  end if;
  if suffix = '' then
    raise exception using errcode = '22023',
      message = format('unknown check kind "%s" (this database has: %s; after upgrading dq-monitor, run "dq migrate")',
        left(coalesce(kind, 'null'), 100),
        (select string_agg(substr(p.proname, 6), ', ' order by p.proname)
         from pg_proc p
         where p.pronamespace = 'dq'::regnamespace and p.proname ~ '^kind_[a-z0-9_]+$'
           and p.proname !~ '_indexes$'));
  end if;
  return null;
end
$$;

create or replace function dq.run_check(spec jsonb)
returns jsonb
language plpgsql
stable
set statement_timeout = '55s'
set lock_timeout = '5s'
as $$
declare
  measure text;
  result jsonb;
begin
  if spec is null or jsonb_typeof(spec) <> 'object' then
    raise exception using errcode = '22023', message = 'check spec must be a JSON object';
  end if;
  measure := dq.resolve_kind(spec);
  -- Single flight: two runs of one check never overlap (HTTP answers 409).
  -- A transaction-scoped advisory lock works through every adapter,
  -- PostgREST included, and is released when the check's transaction ends.
  -- Incremental runs rely on it too: two overlapping runs would read the same
  -- watermark.
  if spec ? 'name' and dq.scan_guard() = 'true'
     and not pg_try_advisory_xact_lock(hashtext('dq-monitor'), hashtext(spec ->> 'name')) then
    raise exception using errcode = 'DQ409',
      message = format('check "%s" is already running (another run holds it); try again when it finishes', spec ->> 'name');
  end if;
  execute format('select %s($1)', measure) into result using spec;
  return result;
end
$$;

-- Plans a check without reading user rows: what `dq validate --db` calls.
-- VOLATILE because it sets a transaction-local setting.
create or replace function dq.validate_check(spec jsonb)
returns jsonb
language plpgsql
volatile
set statement_timeout = '55s'
set lock_timeout = '5s'
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

-- The indexes an incremental check needs to cost a fraction of a full run,
-- as a measurement: value = how many are missing, details.indexes = each one
-- ({ table, columns, purpose, present, create }), sample = the CREATE INDEX
-- statements to run. A kind lists what it needs in dq.kind_<kind>_indexes(spec)
-- (as [{ table, columns, purpose }]); a kind without it, or a check without
-- `incremental`, needs none. Reads no rows.
create or replace function dq.index_advice(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  needs_function text;
  needs jsonb := '[]'::jsonb;
  need jsonb;
  rel regclass;
  relkind "char";
  indexes jsonb := '[]'::jsonb;
  present boolean;
  create_sql text;
begin
  if spec is null or spec -> 'incremental' is null or jsonb_typeof(spec -> 'incremental') = 'null' then
    return jsonb_build_object('value', 0, 'details', jsonb_build_object('indexes', '[]'::jsonb), 'sample', '[]'::jsonb);
  end if;
  perform dq.resolve_kind(spec);
  needs_function := dq.resolve_kind(spec, '_indexes');
  if needs_function is not null then
    -- The kind checks every field on its own first (a single expression that
    -- resolves in its table, named in the error), before any of it reaches SQL text.
    execute format('select %s($1)', needs_function) into needs using spec;
  end if;

  for need in select n from jsonb_array_elements(needs) n loop
    perform dq.relation_sql(need ->> 'table', 'table');
    rel := (need ->> 'table')::regclass;
    select c.relkind into relkind from pg_class c where c.oid = rel;
    create_sql := format('create index concurrently on %s (%s);', rel::text,
      (select string_agg(case when btrim(c) ~ '^([A-Za-z_][A-Za-z0-9_$]*|"([^"]|"")+")$' then btrim(c)
                              else format('(%s)', c) end, ', ')
       from jsonb_array_elements_text(need -> 'columns') c));
    -- A view has no indexes of its own: the tables under it need them.
    present := case when relkind in ('r', 'p', 'm') then dq.has_leading_index(rel,
                 array(select jsonb_array_elements_text(need -> 'columns'))) end;
    indexes := indexes || jsonb_build_array(need || jsonb_build_object(
      'present', present, 'create', case when relkind in ('r', 'p', 'm') then create_sql end));
  end loop;

  return jsonb_build_object(
    'value', (select count(*) from jsonb_array_elements(indexes) i where i -> 'present' = 'false'::jsonb),
    'details', jsonb_build_object('indexes', indexes),
    'sample', coalesce((select jsonb_agg(i -> 'create') from jsonb_array_elements(indexes) i
                        where i -> 'present' = 'false'::jsonb), '[]'::jsonb));
end
$$;

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
-- A NULL key never matches. For a composite key, row(a, b), that means a NULL
-- in any field: compared as composite values (record_eq, what joins use)
-- NULL fields would be equal, so such keys are kept out of the match
-- explicitly (a row value IS NOT NULL only when every field is).
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
  key_is_row boolean;
  matchable text := '';
begin
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;
  select t.typtype = 'c' or t.oid = 'record'::regtype into key_is_row
  from pg_type t where t.oid = dq.expression_type(source, source_key);
  if key_is_row then
    matchable := 'dq_s.dq_key is not null and ';
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

-- ===== supabase/schemas/30_kind_duplicates.sql =====

-- dq-monitor: the duplicates kind (checks/kinds/duplicates).

-- What dq.top_groups keeps of a group: its size and its key as text (the
-- order among equal sizes, and how the sample entry and the ids lookup get
-- the key back, cast to its own type).
do $$
begin
  if to_regtype('dq.top_group') is null then
    create type dq.top_group as (n bigint, ord text[]);
  end if;
  if to_regtype('dq.top_groups_state') is null then
    create type dq.top_groups_state as (min_n bigint, groups dq.top_group[]);
  end if;
end
$$;

-- The 5 largest groups seen so far, largest first. Called only for groups
-- over the limit (FILTER), and a group no larger than the 5th kept returns at
-- once (min_n sits outside the array so that test reads no array element):
-- about half a microsecond per duplicated key, where materialising every
-- group to sort them cost a pass over all of them. Among groups of equal size
-- the first ones grouped are kept: with a parallel plan that is key order.
create or replace function dq.top_groups_step(state dq.top_groups_state, n bigint, ord text[])
returns dq.top_groups_state
language plpgsql
immutable
parallel safe
as $$
declare
  kept dq.top_group[];
begin
  if n <= state.min_n then
    return state;
  end if;
  kept := array(
    select s from unnest(state.groups || row(n, ord)::dq.top_group) s
    order by s.n desc, s.ord
    limit 5);
  return row(case when cardinality(kept) = 5 then (kept[5]).n else 0 end, kept)::dq.top_groups_state;
end
$$;

create or replace function dq.top_groups_final(state dq.top_groups_state)
returns dq.top_group[]
language sql
immutable
parallel safe
as $$
  select coalesce(state.groups, '{}')
$$;

create or replace aggregate dq.top_groups(bigint, text[]) (
  sfunc = dq.top_groups_step,
  stype = dq.top_groups_state,
  finalfunc = dq.top_groups_final,
  initcond = '(0,{})',
  parallel = safe
);

-- duplicates: rows beyond `maxPerKey` per key. NULLs group together, as GROUP
-- BY does (a unique index would let them through).
-- One pass: the table is grouped once (in parallel), and a single aggregate
-- over the groups yields every figure and the 5 largest groups. With `id`,
-- one more scan collects the sampled groups' ids, all five at once.
-- Incremental: only keys that rows changed since the watermark carry are
-- counted, each over the whole table through an index on the key columns.
create or replace function dq.kind_duplicates(spec jsonb)
returns jsonb
language plpgsql
stable
-- Duplicate keys travel as text between the grouping and the sample ids:
-- shortest-exact float output keeps a float8 key equal to itself.
set extra_float_digits = 3
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true) || ' and ' || dq.scan_guard();
  max_per_key bigint := coalesce((spec ->> 'maxPerKey')::bigint, 1);
  id_column text := dq.expression_sql(source, spec ->> 'id', 'id', required => false);
  plan jsonb;
  exprs text[];
  key_list text;
  group_list text;
  key_text text;
  key_types text[];
  groups_sql text;
  stats record;
  sample jsonb;
  details jsonb;
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
  plan := dq.incremental_plan(spec, source);

  select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n),
         string_agg(n::text, ', ' order by n),
         format('array[%s]::text[]', string_agg(format('dq_k%s::text', n), ', ' order by n))
    into key_list, group_list, key_text
  from unnest(exprs) with ordinality as t(e, n);

  if plan is null or plan ->> 'scope' = 'full' then
    groups_sql := format('select %s, count(*) as dq_n, null::bigint as dq_changed from %s as dq_t where (%s) group by %s',
      key_list, source, predicate, group_list);
  else
    groups_sql := dq.changed_key_groups_sql(source, predicate, plan ->> 'filter', exprs);
  end if;

  execute format($q$
    select count(*) as keys,
           coalesce(sum(dq_n), 0) as rows,
           count(*) filter (where dq_n > %2$s) as groups,
           coalesce(sum(dq_n - %2$s) filter (where dq_n > %2$s), 0) as extra_rows,
           coalesce(max(dq_n), 0) as largest_group,
           dq.top_groups(dq_n, %3$s) filter (where dq_n > %2$s) as top,
           sum(dq_changed) as changed_rows
    from (%1$s) g
  $q$, groups_sql, max_per_key, key_text)
  into stats;

  -- Each sampled key back in its own type, labelled as the catalog spells it.
  select array_agg(format_type(dq.expression_type(source, e), null) order by n) into key_types
  from unnest(exprs) with ordinality as t(e, n);
  execute format(
    'select coalesce(jsonb_agg(jsonb_build_object(%s, ''rows'', s.n) order by s.n desc, s.ord), ''[]'') from unnest($1) s',
    (select string_agg(format('%L, (s.ord[%s])::%s', dq.column_label(exprs[n]), n, key_types[n]), ', ' order by n)
     from generate_series(1, cardinality(exprs)) n))
    into sample using stats.top;
  if id_column is not null and cardinality(stats.top) > 0 then
    sample := dq.duplicate_group_ids(source, predicate, exprs, key_types, id_column, stats.top, sample);
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'keys', stats.keys, 'groups', stats.groups, 'extra_rows', stats.extra_rows,
    'largest_group', stats.largest_group, 'max_per_key', max_per_key,
    'unique_index', dq.has_unique_index((spec ->> 'table')::regclass, exprs));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
    if plan ->> 'scope' = 'incremental' then
      details := details || jsonb_build_object('changed_rows', coalesce(stats.changed_rows, 0));
    end if;
  end if;
  return jsonb_build_object('value', stats.extra_rows, 'details', details, 'sample', sample);
end
$$;

-- The groups (dq_k1.., dq_n, dq_changed) of every key that a changed row
-- carries, each counted over the whole table (dq_changed: how many of its
-- rows changed). Equality lets the planner probe an index on the key columns
-- once per changed key; NULL never equals NULL, so each pattern of NULL key
-- parts gets its own arm with IS NULL in their place (B-tree indexes answer
-- IS NULL too). Up to 4 key parts every pattern gets an arm (an arm no
-- changed key fits costs a filter over the changed keys); with more, the
-- patterns present are read first.
create or replace function dq.changed_key_groups_sql(source text, predicate text, changed text, exprs text[])
returns text
language plpgsql
stable
as $$
declare
  parts int := cardinality(exprs);
  patterns jsonb;
  pattern jsonb;
  arms text[] := '{}';
begin
  if parts <= 4 then
    select jsonb_agg((select jsonb_agg(b & (1 << (k - 1)) <> 0 order by k) from generate_series(1, parts) k))
      into patterns
    from generate_series(0, (1 << parts) - 1) b;
  else
    execute format('select coalesce(jsonb_agg(distinct to_jsonb(array[%s])), ''[]'') from %s as dq_t where (%s) and (%s)',
      (select string_agg(format('(%s) is null', e), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
      source, predicate, changed)
      into patterns;
  end if;
  for pattern in select p from jsonb_array_elements(patterns) p loop
    arms := arms || (
      select format(
        'select %s, c.dq_n, tk.dq_changed from dq_touched tk, lateral (select count(*) as dq_n from %s as dq_t where (%s) and %s) c where %s',
        string_agg(format('tk.dq_k%s', n), ', ' order by n), source, predicate,
        string_agg(case when (pattern ->> (n - 1)::int)::boolean then format('(%s) is null', exprs[n])
                        else format('(%s) = tk.dq_k%s', exprs[n], n) end, ' and ' order by n),
        string_agg(format('tk.dq_k%s is %snull', n,
                          case when (pattern ->> (n - 1)::int)::boolean then '' else 'not ' end), ' and ' order by n))
      from generate_series(1, parts) n);
  end loop;
  if cardinality(arms) = 0 then
    -- Nothing changed: no groups.
    return format('select %s, 0::bigint as dq_n, 0::bigint as dq_changed from %s as dq_t where false',
      (select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
      source);
  end if;
  return format('with dq_touched as materialized (select %s, count(*) as dq_changed from %s as dq_t where (%s) and (%s) group by %s) %s',
    (select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
    source, predicate, changed,
    (select string_agg(n::text, ', ') from generate_series(1, parts) n),
    array_to_string(arms, ' union all '));
end
$$;

-- Adds up to 5 row ids to each sampled duplicate group (`sample`, in the
-- order of `top`), in one scan for all the groups: each group is found again
-- by its key, cast back to the key's own type from the text the sample kept.
-- Equality and IS NULL (rather than IS NOT DISTINCT FROM) let an index on the
-- key columns answer it.
create or replace function dq.duplicate_group_ids(source text, predicate text, exprs text[], key_types text[],
                                                  id_column text, top dq.top_group[], sample jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  matches text[];
  ids jsonb;
begin
  select array_agg((
           select string_agg(case when g.ord[k] is null then format('(%s) is null', exprs[k])
                                  else format('(%s) = %L::%s', exprs[k], g.ord[k], key_types[k]) end,
                             ' and ' order by k)
           from generate_series(1, cardinality(exprs)) k) order by g.n desc, g.ord)
    into matches
  from unnest(top) g;

  execute format($q$
    select coalesce(jsonb_object_agg(dq_g, ids), '{}')
    from (
      select dq_g, jsonb_agg(dq_id order by dq_id) as ids
      from (
        select dq_g, dq_id, row_number() over (partition by dq_g order by dq_id) as dq_rank
        from (select case %1$s end as dq_g, (%2$s) as dq_id
              from %3$s as dq_t where (%4$s) and (%5$s)) m
      ) ranked
      where dq_rank <= 5
      group by dq_g
    ) per_group
  $q$,
    (select string_agg(format('when %s then %s', m, i - 1), ' ' order by i) from unnest(matches) with ordinality as t(m, i)),
    id_column, source, predicate,
    (select string_agg(format('(%s)', m), ' or ') from unnest(matches) m))
  into ids;

  return (select jsonb_agg(e.entry || jsonb_build_object('ids', coalesce(ids -> (e.i - 1)::text, '[]'::jsonb)) order by e.i)
          from jsonb_array_elements(sample) with ordinality as e(entry, i));
end
$$;

-- The indexes an incremental duplicates check needs (dq.index_advice).
create or replace function dq.kind_duplicates_indexes(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  column_sql text := spec #>> '{incremental,column}';
  pos integer;
begin
  perform dq.expression_sql(source, column_sql, 'incremental.column');
  for pos in 0 .. coalesce(jsonb_array_length(spec -> 'columns'), 0) - 1 loop
    perform dq.expression_sql(source, spec -> 'columns' ->> pos, format('columns[%s]', pos));
  end loop;
  return jsonb_build_array(
    jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql),
                       'purpose', 'find the rows changed since the last run'),
    jsonb_build_object('table', spec ->> 'table', 'columns', spec -> 'columns',
                       'purpose', 'count the rows of each changed key in the whole table'));
end
$$;

-- ===== supabase/schemas/30_kind_raw_vs_enriched.sql =====

-- dq-monitor: the raw_vs_enriched kind (checks/kinds/raw_vs_enriched).

-- raw_vs_enriched: how many raw rows never produced an enriched row, split from
-- the expected collapse of several raw rows into one enriched row per key.
-- With `time`, only raw rows in [now() - window, now() - grace) count: younger
-- rows may still be in flight.
create or replace function dq.kind_raw_vs_enriched(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  raw text := dq.relation_sql(spec #>> '{raw,table}', 'raw.table');
  raw_key text := dq.expression_sql(raw, spec #>> '{raw,key}', 'raw.key');
  raw_time text := dq.expression_sql(raw, spec #>> '{raw,time}', 'raw.time', required => false);
  raw_where text := dq.expression_sql(raw, spec #>> '{raw,where}', 'raw.where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  enriched text := dq.relation_sql(spec #>> '{enriched,table}', 'enriched.table');
  enriched_key text := dq.expression_sql(enriched, spec #>> '{enriched,key}', 'enriched.key');
  enriched_where text := dq.expression_sql(enriched, spec #>> '{enriched,where}', 'enriched.where', required => false, is_predicate => true);
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

-- ===== supabase/schemas/30_kind_trigger.sql =====

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

-- ===== supabase/schemas/40_alerts.sql =====

-- dq-monitor: alert state, the Slack outbox and the monitor's heartbeat.
--
-- The alert policy itself is TypeScript (alerts/policy); these tables keep
-- what it needs between runs, and these functions are the only way callers
-- touch them (alerts/store), so the three adapters (PGlite, node-postgres,
-- supabase-js over PostgREST) share one behaviour.

-- What on-call was last told about each alert, by dedup key:
-- "<check>/threshold" (pass / warn / fail), "<check>/error" (pass / error) and
-- "dq-monitor/stale". Runs that do not notify never change it, so a recovery
-- seen only by an ad hoc run is still announced by the next notifying run.
create table if not exists dq.alert_state (
  dedup_key text primary key,
  check_name text,
  alert_kind text not null check (alert_kind in ('threshold', 'error', 'stale')),
  status text not null check (status in ('pass', 'warn', 'fail', 'error')),
  -- when the current incident began (null while passing)
  opened_at timestamptz,
  -- the last firing, reminder or resolved notification queued for this key
  last_notified_at timestamptz,
  -- started_at of the run this state comes from: an older run never overwrites it
  observed_at timestamptz not null,
  run_id uuid,
  -- optimistic concurrency: enqueue_alerts refuses a batch read at another version
  version integer not null default 1,
  updated_at timestamptz not null default now()
);

-- Slack messages, written with the run before any send and marked sent only
-- after Slack answers 200. No webhook URL is stored: `route` names the
-- binding (default or critical) resolved at send time.
create table if not exists dq.alert_outbox (
  id bigint generated always as identity primary key,
  run_id uuid not null references dq.runs (id) on delete cascade,
  route text not null check (route in ('default', 'critical')),
  payload jsonb not null,
  alerts jsonb not null default '[]'::jsonb,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  created_at timestamptz not null default now(),
  -- a sender holds a message until then, so two runs never post it twice
  leased_until timestamptz,
  last_attempt_at timestamptz,
  sent_at timestamptz,
  http_status integer,
  last_error text
);
create index if not exists alert_outbox_pending_idx on dq.alert_outbox (id) where status = 'pending';
create index if not exists alert_outbox_run_idx on dq.alert_outbox (run_id);

-- The last scheduled run that applied the alert policy, and the cron interval
-- it expected: staleness of the monitor itself (one row).
create table if not exists dq.monitor_heartbeat (
  singleton boolean primary key default true check (singleton),
  -- null for a tick where no check was due (dq.record_heartbeat)
  run_id uuid,
  beat_at timestamptz not null,
  -- the gap to the next tick of the cron (shown as the run expected next)
  interval_seconds integer not null check (interval_seconds > 0),
  -- the second tick of the cron after the beat: past it with no newer beat,
  -- two runs in a row were missed. Only the caller can read a cron, so it
  -- sends this; a gap "twice the interval" would be wrong for uneven crons
  -- ("0 9 * * 1-5" over a weekend, "0 9,12 * * *").
  stale_after timestamptz,
  updated_at timestamptz not null default now()
);

create or replace function dq.alert_state_json(s dq.alert_state)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'dedup_key', s.dedup_key, 'check', s.check_name, 'alert_kind', s.alert_kind,
    'status', s.status, 'opened_at', s.opened_at, 'last_notified_at', s.last_notified_at,
    'observed_at', s.observed_at, 'run_id', s.run_id, 'version', s.version)
$$;

-- Alert state for these dedup keys (all when null).
create or replace function dq.alert_states(dedup_keys text[] default null)
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_agg(dq.alert_state_json(s) order by s.dedup_key), '[]'::jsonb)
  from dq.alert_state s
  where dedup_keys is null or s.dedup_key = any (dedup_keys)
$$;

-- When a heartbeat goes stale: stale_after, else (a row written without one) twice the interval.
create or replace function dq.heartbeat_deadline(beat_at timestamptz, interval_seconds integer,
                                                 stale_after timestamptz)
returns timestamptz
language sql
stable
as $$
  select coalesce(heartbeat_deadline.stale_after,
                  heartbeat_deadline.beat_at
                    + make_interval(secs => 2 * heartbeat_deadline.interval_seconds))
$$;

-- Writes a heartbeat { beat_at, interval_seconds, stale_after? } unless a
-- newer one is there. Two cron triggers beating at the same minute keep the
-- earlier deadline: the finer trigger's, which beats again first. True when written.
create or replace function dq.put_heartbeat(beat_run uuid, heartbeat jsonb)
returns boolean
language plpgsql
volatile
as $$
declare
  beat timestamptz := (heartbeat ->> 'beat_at')::timestamptz;
  every integer := (heartbeat ->> 'interval_seconds')::integer;
  deadline timestamptz := (heartbeat ->> 'stale_after')::timestamptz;
  written boolean;
begin
  if beat is null or every is null or every <= 0 then
    raise exception using errcode = '22023',
      message = 'heartbeat: beat_at and a positive interval_seconds are required';
  end if;
  if deadline is not null and deadline <= beat then
    raise exception using errcode = '22023', message = 'heartbeat: stale_after must come after beat_at';
  end if;
  insert into dq.monitor_heartbeat as h (singleton, run_id, beat_at, interval_seconds, stale_after)
  values (true, beat_run, beat, every, deadline)
  on conflict (singleton) do update
    set run_id = excluded.run_id, beat_at = excluded.beat_at,
        interval_seconds = excluded.interval_seconds, stale_after = excluded.stale_after,
        updated_at = now()
    where excluded.beat_at > h.beat_at
       or (excluded.beat_at = h.beat_at
           and coalesce(excluded.stale_after, 'infinity') <= coalesce(h.stale_after, 'infinity'))
  returning true into written;
  return coalesce(written, false);
end
$$;

-- In one transaction: the new alert state of each key, the run's Slack
-- messages to send (outbox) and, for scheduled runs, the heartbeat.
--   batch = { run_id, states: [{ dedup_key, check, alert_kind, status, opened_at,
--             last_notified_at, observed_at, expected_version }],
--             messages: [{ route, payload, alerts }],
--             heartbeat?: { beat_at, interval_seconds, stale_after? } }
-- expected_version is the version the caller read (0: no row). When any key
-- moved since, nothing is written and { conflict: true } asks the caller to
-- read again and decide again: two concurrent runs never both notify.
create or replace function dq.enqueue_alerts(batch jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  batch_run uuid := (batch ->> 'run_id')::uuid;
  stale_keys text[];
  new_ids bigint[];
begin
  if batch_run is null then
    raise exception using errcode = '22023', message = 'enqueue_alerts: batch.run_id is required';
  end if;
  -- Serialises deciders; its own lock class, so no check name can collide with it.
  perform pg_advisory_xact_lock(hashtext('dq-monitor-alerts'), 0);

  select array_agg(b.dedup_key order by b.dedup_key) into stale_keys
  from jsonb_to_recordset(coalesce(batch -> 'states', '[]'::jsonb))
         as b(dedup_key text, expected_version integer)
  left join dq.alert_state s on s.dedup_key = b.dedup_key
  where coalesce(s.version, 0) <> coalesce(b.expected_version, 0);
  if stale_keys is not null then
    return jsonb_build_object('conflict', true, 'keys', to_jsonb(stale_keys), 'ids', '[]'::jsonb);
  end if;

  insert into dq.alert_state as s (dedup_key, check_name, alert_kind, status, opened_at,
                                   last_notified_at, observed_at, run_id)
  select b.dedup_key, b."check", b.alert_kind, b.status, b.opened_at, b.last_notified_at,
         b.observed_at, batch_run
  from jsonb_to_recordset(coalesce(batch -> 'states', '[]'::jsonb))
         as b(dedup_key text, "check" text, alert_kind text, status text, opened_at timestamptz,
              last_notified_at timestamptz, observed_at timestamptz)
  on conflict (dedup_key) do update
    set status = excluded.status, opened_at = excluded.opened_at,
        last_notified_at = excluded.last_notified_at, observed_at = excluded.observed_at,
        run_id = excluded.run_id, check_name = excluded.check_name,
        version = s.version + 1, updated_at = now();

  with inserted as (
    insert into dq.alert_outbox (run_id, route, payload, alerts)
    select batch_run, m ->> 'route', m -> 'payload', coalesce(m -> 'alerts', '[]'::jsonb)
    from jsonb_array_elements(coalesce(batch -> 'messages', '[]'::jsonb)) with ordinality as t(m, ord)
    order by ord
    returning id
  )
  select array_agg(id order by id) into new_ids from inserted;

  -- This run decided on the monitor's staleness (above, in the same batch):
  -- its beat may replace a stale one.
  if batch ? 'heartbeat' and jsonb_typeof(batch -> 'heartbeat') = 'object' then
    perform dq.put_heartbeat(batch_run, batch -> 'heartbeat');
  end if;

  return jsonb_build_object('conflict', false, 'keys', '[]'::jsonb,
                            'ids', coalesce(to_jsonb(new_ids), '[]'::jsonb));
end
$$;

create or replace function dq.alert_outbox_json(o dq.alert_outbox)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', o.id, 'run_id', o.run_id, 'route', o.route, 'payload', o.payload, 'alerts', o.alerts,
    'status', o.status, 'attempts', o.attempts, 'created_at', o.created_at,
    'last_attempt_at', o.last_attempt_at, 'sent_at', o.sent_at, 'http_status', o.http_status,
    'last_error', o.last_error)
$$;

-- The oldest pending messages, oldest first. With lease_seconds > 0 they are
-- also leased for that long, so a concurrent run skips them; with 0 (the
-- default) they are only listed.
create or replace function dq.pending_alerts(max_messages integer default 10,
                                             lease_seconds integer default 0)
returns jsonb
language plpgsql
volatile
as $$
declare
  wanted integer := greatest(least(coalesce(max_messages, 10), 1000), 1);
  picked jsonb;
begin
  if coalesce(lease_seconds, 0) <= 0 then
    select coalesce(jsonb_agg(dq.alert_outbox_json(o) order by o.id), '[]'::jsonb) into picked
    from (select * from dq.alert_outbox p where p.status = 'pending' order by p.id limit wanted) o;
    return picked;
  end if;
  with candidates as (
    select p.id from dq.alert_outbox p
    where p.status = 'pending' and (p.leased_until is null or p.leased_until <= now())
    order by p.id
    limit wanted
    for update skip locked
  ), leased as (
    update dq.alert_outbox o
       set leased_until = now() + make_interval(secs => lease_seconds)
      from candidates c
     where o.id = c.id
    returning o.id, dq.alert_outbox_json(o) as message
  )
  select coalesce(jsonb_agg(l.message order by l.id), '[]'::jsonb) into picked from leased l;
  return picked;
end
$$;

-- After a send: 'sent' (Slack answered 200), 'pending' (will be retried by a
-- later run) or 'failed' (Slack refused it for good: 400/403/404/410), with
-- Slack's error string. A message already sent is never changed again.
create or replace function dq.mark_alert(outbox_id bigint, outcome text, attempts integer,
                                         http_status integer default null,
                                         error_text text default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  changed bigint;
begin
  if outcome not in ('sent', 'pending', 'failed') then
    raise exception using errcode = '22023',
      message = format('mark_alert: outcome must be sent, pending or failed, not "%s"', outcome);
  end if;
  update dq.alert_outbox o
     set status = outcome,
         attempts = o.attempts + greatest(coalesce(mark_alert.attempts, 0), 0),
         last_attempt_at = now(),
         sent_at = case when outcome = 'sent' then now() end,
         http_status = mark_alert.http_status,
         last_error = case when outcome = 'sent' then null else left(error_text, 500) end,
         leased_until = null
   where o.id = outbox_id and o.status = 'pending'
  returning o.id into changed;
  return jsonb_build_object('updated', changed is not null);
end
$$;

-- Is the monitor alive? The last scheduled heartbeat, stale once its deadline
-- (dq.heartbeat_deadline) has passed at `as_of` (default now). `exclude_run`
-- lets a run ask about the beats before its own.
create or replace function dq.monitor_status(as_of timestamptz default null,
                                             exclude_run uuid default null)
returns jsonb
language sql
stable
as $$
  select case when h.singleton is null then
    jsonb_build_object('last_run_id', null, 'last_beat_at', null, 'interval_seconds', null,
                       'stale_after', null, 'age_seconds', null, 'stale', false)
  else
    jsonb_build_object(
      'last_run_id', h.run_id, 'last_beat_at', h.beat_at, 'interval_seconds', h.interval_seconds,
      'stale_after', dq.heartbeat_deadline(h.beat_at, h.interval_seconds, h.stale_after),
      'age_seconds', round(extract(epoch from coalesce(as_of, now()) - h.beat_at)),
      'stale', coalesce(as_of, now())
                 > dq.heartbeat_deadline(h.beat_at, h.interval_seconds, h.stale_after))
  end
  from (select true as one) o
  left join dq.monitor_heartbeat h
    on h.singleton and (exclude_run is null or h.run_id is distinct from exclude_run)
$$;

-- A tick where no check is due: only the heartbeat { beat_at, interval_seconds,
-- stale_after? }, with no run. Returns { recorded, monitor }, monitor being
-- the status before this beat, at beat_at. When that status is stale nothing
-- is written: the gap stays for the next run with checks due to announce
-- (dq.enqueue_alerts), instead of disappearing under this beat.
create or replace function dq.record_heartbeat(heartbeat jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  beat timestamptz := (heartbeat ->> 'beat_at')::timestamptz;
  before jsonb;
begin
  if jsonb_typeof(heartbeat) is distinct from 'object' or beat is null then
    raise exception using errcode = '22023', message = 'record_heartbeat: heartbeat.beat_at is required';
  end if;
  -- As enqueue_alerts: a run announcing a gap and this beat never interleave.
  perform pg_advisory_xact_lock(hashtext('dq-monitor-alerts'), 0);
  before := dq.monitor_status(beat, null);
  if (before ->> 'stale')::boolean then
    return jsonb_build_object('recorded', false, 'monitor', before);
  end if;
  return jsonb_build_object('recorded', dq.put_heartbeat(null, heartbeat), 'monitor', before);
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
