-- dq-monitor migration "unchanged_tables", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

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
-- A check's latest result in recording order (incremental watermarks, unchanged answers).
create index if not exists results_check_id_idx on dq.results (check_name, id desc);
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

-- The dq.results rows of results in the result contract's JSON, in their
-- order (ord), under a run's id, trigger and time: what dq.record_run and
-- dq.record_fan_out (11_fan_out.sql) insert.
create or replace function dq.result_rows(run uuid, run_trigger text, run_started_at timestamptz, results jsonb)
returns table (run_id uuid, check_name text, kind text, status text, value numeric, threshold jsonb,
               details jsonb, sample jsonb, error text, duration_ms integer, trigger text,
               started_at timestamptz, severity text, owner text, error_code text, ord bigint)
language sql
immutable
as $$
  select run, r ->> 'check', r ->> 'kind', r ->> 'status', (r ->> 'value')::numeric,
         coalesce(r -> 'threshold', '{}'::jsonb), coalesce(r -> 'details', '{}'::jsonb),
         coalesce(r -> 'sample', '[]'::jsonb), r ->> 'error',
         coalesce((r ->> 'duration_ms')::integer, 0), run_trigger, run_started_at,
         r ->> 'severity', r ->> 'owner', r ->> 'error_code', t.ord
  from jsonb_array_elements(coalesce(results, '[]'::jsonb)) with ordinality as t(r, ord)
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
  select x.run_id, x.check_name, x.kind, x.status, x.value, x.threshold, x.details, x.sample,
         x.error, x.duration_ms, x.trigger, x.started_at, x.severity, x.owner, x.error_code
  from dq.result_rows(recorded, run ->> 'trigger', (run ->> 'started_at')::timestamptz, run -> 'results') x
  order by x.ord;

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

-- ===== supabase/schemas/11_fan_out.sql =====

-- dq-monitor: a scheduled tick fanned out over a Cloudflare Queue
-- (checks/fan-out). The tick is claimed as before (dq.claim_run, through
-- dq.claim_fan_out); queue consumers then run its due checks part by part
-- and record each part under the tick's run. dq.run_fan_out counts the checks
-- the tick expects and the ones recorded, in the transaction that records
-- them: the one call that records the last check completes the run and is
-- told so, and its consumer alone runs the alert policy for the whole tick.

create table if not exists dq.run_fan_out (
  run_id uuid primary key references dq.runs (id) on delete cascade,
  -- the cron expression that fired (the monitor's heartbeat)
  cron text not null,
  -- the expanded catalog at the tick (resolved checks): what consumers run, and
  -- what the alert policy resolves removed checks against
  catalog jsonb not null,
  -- the names of the tick's due checks: the only results the run takes
  due text[] not null,
  expected integer not null check (expected >= 0),
  recorded integer not null default 0 check (recorded >= 0),
  -- failed deliveries by part: { "3": { "attempts": 2, "error": "..." } }
  failures jsonb not null default '{}'::jsonb,
  -- set once, by the call that recorded the last due check
  finished_at timestamptz
);
comment on table dq.run_fan_out is
  'a scheduled tick run by queue consumers: checks expected and recorded (checks/fan-out)';

-- Claims the tick (dq.claim_run) and, when claimed, registers the checks it
-- fans out, in one transaction. run: claim_run's fields plus cron, catalog
-- (resolved checks) and due (check names).
create or replace function dq.claim_fan_out(run jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  claim jsonb := dq.claim_run(run);
  -- in the tick's order, each name once
  due_names text[] := array(
    select name from (select distinct on (name) name, ord
                      from jsonb_array_elements_text(run -> 'due') with ordinality as t(name, ord)
                      order by name, ord) d
    order by ord);
begin
  if (claim ->> 'claimed')::boolean then
    insert into dq.run_fan_out (run_id, cron, catalog, due, expected)
    values ((claim ->> 'run_id')::uuid, run ->> 'cron', coalesce(run -> 'catalog', '[]'::jsonb),
            due_names, cardinality(due_names));
  end if;
  return claim;
end
$$;

-- What a consumer needs to run one part: the run's trigger and time, and the
-- specs of the part's checks that are due at the tick and not yet recorded (a
-- redelivered part runs nothing already recorded). part: { run_id, checks }.
create or replace function dq.fan_out_part(part jsonb)
returns jsonb
language sql
stable
as $$
  select coalesce((
    select jsonb_build_object(
      'found', true,
      'finished', f.finished_at is not null,
      'trigger', r.trigger,
      'started_at', r.started_at,
      'checks', coalesce((
        select jsonb_agg(c.spec order by c.ord)
        from jsonb_array_elements(f.catalog) with ordinality as c(spec, ord)
        where c.spec ->> 'name' in (select jsonb_array_elements_text(part -> 'checks'))
          and c.spec ->> 'name' = any (f.due)
          and not exists (select 1 from dq.results x
                          where x.run_id = f.run_id and x.check_name = c.spec ->> 'name')
      ), '[]'::jsonb))
    from dq.run_fan_out f
    join dq.runs r on r.id = f.run_id
    where f.run_id = (part ->> 'run_id')::uuid
  ), jsonb_build_object('found', false))
$$;

-- Records a part's results under the tick's run, each check at most once
-- (by run and check name; only checks due at the tick), and counts them.
-- Concurrent calls for one tick queue on its dq.run_fan_out row. The call
-- that records the last due check completes the run and answers
-- finished: true with everything the alert policy needs; every other call,
-- a redelivered part's included, answers finished: false.
-- part: { run_id, results: [result contract JSON] }.
create or replace function dq.record_fan_out(part jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  fan dq.run_fan_out%rowtype;
  parent dq.runs%rowtype;
  inserted integer;
begin
  select * into fan from dq.run_fan_out where run_id = (part ->> 'run_id')::uuid for update;
  if not found then
    raise exception 'no fanned-out run %', part ->> 'run_id' using errcode = 'P0002';
  end if;
  select * into parent from dq.runs where id = fan.run_id;

  insert into dq.results (run_id, check_name, kind, status, value, threshold, details, sample,
                          error, duration_ms, trigger, started_at, severity, owner, error_code)
  select d.run_id, d.check_name, d.kind, d.status, d.value, d.threshold, d.details, d.sample,
         d.error, d.duration_ms, d.trigger, d.started_at, d.severity, d.owner, d.error_code
  from (select distinct on (x.check_name) x.*
        from dq.result_rows(fan.run_id, parent.trigger, parent.started_at, part -> 'results') x
        order by x.check_name, x.ord) d
  where d.check_name = any (fan.due)
    and not exists (select 1 from dq.results y
                    where y.run_id = fan.run_id and y.check_name = d.check_name)
  order by d.ord;
  get diagnostics inserted = row_count;

  update dq.run_fan_out set recorded = recorded + inserted where run_id = fan.run_id
  returning * into fan;

  if fan.finished_at is not null or fan.recorded < fan.expected then
    return jsonb_build_object('recorded', inserted, 'finished', false);
  end if;

  update dq.run_fan_out set finished_at = now() where run_id = fan.run_id;
  update dq.runs
     set completed = true,
         finished_at = now(),
         -- from the tick to its last result (a tick replayed long after is capped)
         duration_ms = least(greatest(0, extract(epoch from now() - parent.started_at) * 1000),
                             2147483647)::integer,
         counts = coalesce((select jsonb_object_agg(status, n)
                            from (select status, count(*) as n from dq.results
                                  where run_id = fan.run_id group by 1) c), '{}'::jsonb)
   where id = fan.run_id
  returning * into parent;

  return jsonb_build_object(
    'recorded', inserted,
    'finished', true,
    'run', jsonb_build_object(
      'run_id', parent.id, 'trigger', parent.trigger, 'started_at', parent.started_at,
      'duration_ms', parent.duration_ms,
      'results', coalesce((select jsonb_agg(dq.result_json(x) order by x.id)
                           from dq.results x where x.run_id = fan.run_id), '[]'::jsonb)),
    'cron', fan.cron,
    'catalog', fan.catalog,
    'due', to_jsonb(fan.due));
end
$$;

-- A part's delivery failed (it goes back to the queue): counted, with its
-- error, for the message its checks get if the queue gives up on it.
-- part: { run_id, part, error }. Returns that part's failures so far.
create or replace function dq.note_fan_out_failure(part jsonb)
returns jsonb
language sql
volatile
as $$
  update dq.run_fan_out
     set failures = failures || jsonb_build_object(part ->> 'part', jsonb_build_object(
           'attempts', coalesce((failures -> (part ->> 'part') ->> 'attempts')::integer, 0) + 1,
           'error', part ->> 'error'))
   where run_id = (part ->> 'run_id')::uuid
  returning failures -> (part ->> 'part')
$$;

-- How a part fared before it was given up on (null when no failure was noted).
create or replace function dq.fan_out_failures(part jsonb)
returns jsonb
language sql
stable
as $$
  select failures -> (part ->> 'part') from dq.run_fan_out where run_id = (part ->> 'run_id')::uuid
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
  -- A kind's helpers (dq.kind_<kind>_indexes, _reads) are not kinds.
  if kind ~ '^[a-z][a-z0-9_]*$' and kind !~ '_(indexes|reads)$' then
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
           and p.proname !~ '_(indexes|reads)$'));
  end if;
  return null;
end
$$;

-- Who a check runs as: least privilege, whatever the login. A superuser, or
-- any login that may become dq_monitor, runs its checks as dq_monitor (for
-- the check's subtransaction only): superuser powers are gone, and the grants
-- the README asks of dq_monitor are exactly what checks need. A login that
-- cannot become dq_monitor runs as itself, unless it can do more than read
-- (read or write server files, run programs, signal other sessions): then
-- checks are refused, unless the caller opted in (dq.allow_privileged = on,
-- from DQ_ALLOW_PRIVILEGED_LOGIN=1). BYPASSRLS is not such a power: a monitor
-- that sees every row is what Supabase's service_role is for.
create or replace function dq.assume_monitor_role()
returns text
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  login text := current_user;
  may_become boolean := false;
  powers text[];
begin
  if login = 'dq_monitor' then
    return login;
  end if;
  if to_regrole('dq_monitor') is not null then
    if current_setting('server_version_num')::int >= 160000 then
      may_become := pg_has_role(login, 'dq_monitor', 'SET');
    else
      may_become := pg_has_role(login, 'dq_monitor', 'MEMBER');
    end if;
  end if;
  if may_become then
    perform set_config('role', 'dq_monitor', true);
    return 'dq_monitor';
  end if;
  select array_agg(p.power order by p.power) into powers
  from (
    select 'superuser' as power from pg_roles r where r.rolname = login and r.rolsuper
    union all
    select g.role || ' (' || g.what || ')'
    from (values ('pg_read_server_files', 'read server files'),
                 ('pg_write_server_files', 'write server files'),
                 ('pg_execute_server_program', 'run programs on the server'),
                 ('pg_signal_backend', 'terminate other sessions')) as g(role, what)
    where to_regrole(g.role) is not null and pg_has_role(login, g.role, 'MEMBER')
  ) p;
  if powers is not null and coalesce(current_setting('dq.allow_privileged', true), 'off') <> 'on' then
    raise exception using errcode = 'DQ403',
      message = format('checks would run as %I, which can do more than read: %s, and cannot become dq_monitor',
        login, array_to_string(powers, ', ')),
      hint = format('grant dq_monitor to %I (and grant dq_monitor usage and select on what checks read), or set DQ_ALLOW_PRIVILEGED_LOGIN=1 to run checks as %I anyway', login, login);
  end if;
  return login;
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
  wrote boolean;
  written_before xid8 := pg_current_xact_id_if_assigned();
  advisory_before bigint;
  advisory_after bigint;
  unchanged jsonb;
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
  -- The check runs in a subtransaction that is always rolled back: as the
  -- monitor role, and whatever it did (a large object, a setting) is undone.
  -- Only the measurement, a variable, survives.
  begin
    perform dq.assume_monitor_role();
    -- A cron tick's check whose tables did not change: its last full scan's
    -- answer (27_unchanged.sql). It runs none of the check's SQL text, so
    -- there is nothing to audit after it.
    if spec ->> 'scan' = 'changed' and dq.scan_guard() = 'true' then
      unchanged := dq.unchanged_answer(spec);
      if unchanged is not null and not unchanged ? 'doubt' then
        result := unchanged;
        raise exception using errcode = 'DQRBK';
      end if;
    end if;
    select count(*) into advisory_before
    from pg_locks where locktype = 'advisory' and pid = pg_backend_pid();
    -- The kind's measurement.
    result := dq.measure(spec, measure, unchanged ->> 'doubt');
    wrote := written_before is null and pg_current_xact_id_if_assigned() is not null;
    raise exception using errcode = 'DQRBK';
  exception
    when sqlstate 'DQRBK' then
      null;
    when others then
      -- The check failed: its error stands, but a session lock it took must not.
      if (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())
         > advisory_before then
        perform pg_advisory_unlock_all();
      end if;
      raise;
  end;
  if advisory_before is null then
    return result; -- answered unchanged
  end if;
  if wrote then
    raise exception using errcode = '25006',
      message = 'the check wrote to the database (a large object, a temporary table...): it was rolled back; a check may only read';
  end if;
  select count(*) into advisory_after
  from pg_locks where locktype = 'advisory' and pid = pg_backend_pid();
  if advisory_after > advisory_before then
    -- A session-level lock outlives the transaction on a pooled connection.
    perform pg_advisory_unlock_all();
    raise exception using errcode = '25006',
      message = 'the check took a session-level advisory lock (pg_advisory_lock): it was released; a check may only read';
  end if;
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

-- ===== supabase/schemas/27_unchanged.sql =====

-- dq-monitor: unchanged tables cost nothing. A check whose tables have not
-- changed since its last full scan is answered from that scan's result
-- (details.scope = "unchanged") instead of reading them again.
--
-- The evidence is PostgreSQL's own, per relation and summed over partitions
-- and inheritance children: the write counters (n_tup_ins, n_tup_upd,
-- n_tup_del), the file node (TRUNCATE, VACUUM FULL, CLUSTER and rewriting
-- ALTERs give a new one), the file's size (a write that extends the table
-- shows at once, whatever the counters say), the pg_class row's version
-- (ALTER TABLE), the row-level security policies, the set of partitions
-- (ATTACH / DETACH), the database's stats reset time (pg_stat_reset() and
-- pg_stat_reset_single_table_counters() both set it) and the server's start.
--
-- How late the counters are (pgstat.c, the same in PostgreSQL 15 to 18): a
-- backend counts its writes in its own memory and flushes them to shared
-- memory only between statements, when it goes idle: at once if its last
-- flush was at least 1 s ago (PGSTAT_MIN_INTERVAL), else at the idle timer,
-- 10 s later (PGSTAT_IDLE_INTERVAL), and when lock contention defers a flush,
-- a forced one follows within 60 s (PGSTAT_MAX_INTERVAL). A backend that does
-- not go idle holds its counts until it does: a procedure that COMMITs inside
-- one CALL, or a long statement that follows a write on the same connection.
-- So, never missing a committed write:
--   * the evidence is read before the scan's snapshot is taken (dq.measure is
--     VOLATILE: its scan gets a snapshot of its own, after the evidence), so
--     every write the evidence counts is one the scan saw;
--   * an unchanged answer never moves the evidence forward: it compares with
--     the last full scan's. A write whose counts arrive late is therefore
--     scanned at the first tick after they arrive, never lost; until then it
--     is as if it had committed just after the tick;
--   * a running statement that has already committed inside itself
--     (pg_stat_activity.xact_start later than query_start: a procedure) means
--     a scan, and so does any doubt: a view, a foreign table, a replica,
--     track_counts off, PGlite (single-user: it publishes no statistics), a
--     role that cannot see other sessions, an expression that reads more than
--     its row (a subquery, now(), a function that is not immutable), a kind
--     that does not declare what it reads (dq.kind_<kind>_reads).
-- And a full scan is forced every `fullEvery` (default 24 hours). Only runs
-- that ask for it (spec "scan": "changed": the Worker's cron ticks) are
-- answered unchanged, from a full scan of a run that asked too: a person
-- running a check ad hoc gets a scan, and the write they made a second ago.

-- What changes a measurement: the spec without the fields only the runner or
-- the alert policy read. Editing a threshold or an owner keeps incremental
-- watermarks and unchanged answers; editing a formula or a where clause
-- forces a full scan.
create or replace function dq.spec_hash(spec jsonb)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select md5((spec - array['name', 'description', 'threshold', 'severity', 'owner', 'tags',
                           'schedule', 'timeoutSeconds', 'enabled', 'repeatInterval',
                           'fullEvery', 'scan'])::text)
$$;

-- The names an expression calls as functions ("name(" outside string
-- literals and quoted identifiers), lower case, each once.
create or replace function dq.called_functions(expr text)
returns text[]
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(array_agg(distinct m[1]), '{}')
  from regexp_matches(
         lower(regexp_replace(regexp_replace(coalesce(expr, ''), '''(?:[^'']|'''')*''', ' ', 'g'),
                              '"(?:[^"]|"")*"', ' ', 'g')),
         '([a-z_][a-z0-9_$]*)\s*\(', 'g') m
$$;

-- Why an expression may give another answer on unchanged rows, or NULL when
-- it depends on its row alone: a subquery (another table), the clock or the
-- session (now(), current_date, 'today'), or a function that is not
-- immutable (one of PostgreSQL's own stable functions, which depend on
-- settings only, is fine; the clock's are not). Read from the text: when in
-- doubt, it answers a reason, and the check scans.
create or replace function dq.expression_doubt(expr text, field text)
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  bare text;
  literal text;
  fn text;
begin
  if expr is null then
    return null;
  end if;
  if expr ~ '\$[A-Za-z_0-9]*\$' then
    return format('%s uses dollar quoting', field);
  end if;
  for literal in select m[1] from regexp_matches(expr, '''((?:[^'']|'''')*)''', 'g') m loop
    if lower(literal) ~ '(now|today|tomorrow|yesterday)' then
      return format('%s depends on the clock (%L)', field, literal);
    end if;
  end loop;
  bare := regexp_replace(expr, '''(?:[^'']|'''')*''', ' ', 'g');
  if bare ~ '"\s*\(' then
    return format('%s calls a quoted function name', field);
  end if;
  bare := lower(regexp_replace(bare, '"(?:[^"]|"")*"', ' ', 'g'));
  if bare ~ '\m(select|table|values|with)\M' then
    return format('%s has a subquery: it may read another table', field);
  end if;
  fn := substring(bare from '\m(current_date|current_time|current_timestamp|localtime|localtimestamp|current_user|session_user|user|current_role|current_schema|current_catalog|system_user)\M');
  if fn is not null then
    return format('%s depends on the clock or the session (%s)', field, fn);
  end if;
  foreach fn in array dq.called_functions(expr) loop
    if fn in ('now', 'transaction_timestamp', 'statement_timestamp', 'clock_timestamp', 'timeofday', 'age')
       or exists (select 1 from pg_proc p
                  where p.proname = fn
                    and (p.provolatile = 'v'
                         or (p.provolatile = 's' and p.pronamespace <> 'pg_catalog'::regnamespace))) then
      return format('%s calls %s(), which is not immutable', field, fn);
    end if;
  end loop;
  return null;
end
$$;

-- What a kind's dq.kind_<kind>_reads(spec) returns, from the relations a
-- check reads and the expressions it evaluates on each:
--   sources: [{ "table": <quoted relation>, "fields": { "<field>": "<expression>", ... } }]
-- answers { "tables": [...], "functions": [names the expressions call] } when
-- every expression depends on its row alone (the functions' definitions are
-- part of the evidence: a function replaced is a change), else
-- { "doubt": "<why the check must scan>" }.
create or replace function dq.reads_of(sources jsonb)
returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  field record;
  doubt text;
  functions text[] := '{}';
begin
  for field in
    select f.key, f.value
    from jsonb_array_elements(sources) s, jsonb_each_text(s -> 'fields') f
    where f.value is not null
  loop
    doubt := dq.expression_doubt(field.value, field.key);
    if doubt is not null then
      return jsonb_build_object('doubt', doubt);
    end if;
    functions := functions || dq.called_functions(field.value);
  end loop;
  return jsonb_build_object(
    'tables', (select jsonb_agg(distinct s ->> 'table') from jsonb_array_elements(sources) s),
    'functions', to_jsonb(functions));
end
$$;

-- The reads of a kind over one table (spec.table): what most kinds' _reads are.
create or replace function dq.table_reads(spec jsonb, fields jsonb)
returns jsonb
language sql
stable
as $$
  select dq.reads_of(jsonb_build_array(jsonb_build_object(
    'table', dq.relation_sql(spec ->> 'table', 'table'), 'fields', fields)))
$$;

-- An array field's expressions, named as errors name them:
-- { "columns[0]": "...", "columns[1]": "..." }; {} when it is not an array.
create or replace function dq.array_fields(spec jsonb, field text)
returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_object_agg(format('%s[%s]', field, n - 1), e), '{}')
  from jsonb_array_elements_text(
         case when jsonb_typeof(spec -> field) = 'array' then spec -> field else '[]' end)
       with ordinality as t(e, n)
$$;

-- The evidence that relations did not change: { "fingerprint": md5 } or
-- { "doubt": "<why it cannot be trusted>" }. Reads statistics and the
-- catalog only, as the monitor role. Besides the relations' facts, the
-- versions of the catalog rows a check's meaning rests on: its columns
-- (pg_attribute: a dropped, renamed or retyped column, a column grant), its
-- schema (a revoked USAGE) and the functions it calls (CREATE OR REPLACE),
-- so that what a scan would now refuse or compute differently is scanned.
create or replace function dq.change_evidence(tables text[], functions text[] default '{}')
returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  rels oid[];
  odd record;
  facts text;
begin
  if version() like '%PGlite%' then
    return jsonb_build_object('doubt', 'PGlite keeps no table statistics (PostgreSQL in single-user mode): every run scans');
  end if;
  if pg_is_in_recovery() then
    return jsonb_build_object('doubt', 'a replica: its statistics do not count the primary''s writes');
  end if;
  if current_setting('track_counts') <> 'on' then
    return jsonb_build_object('doubt', 'track_counts is off: PostgreSQL counts no writes');
  end if;

  -- The relations and all under them (partitions, inheritance children): a
  -- scan of a parent reads them.
  -- A relation dropped since (its name kept in a scan's evidence) is no evidence at all.
  if exists (select 1 from unnest(tables) t where to_regclass(t) is null) then
    return jsonb_build_object('doubt', 'a relation it reads no longer exists');
  end if;
  with recursive tree(oid) as (
    select to_regclass(t)::oid from unnest(tables) t
    union
    select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid
  )
  select array_agg(tree.oid order by tree.oid) into rels from tree;

  select c.oid::regclass as rel, c.relkind, n.nspname into odd
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.oid = any(rels)
    and (c.relkind not in ('r', 'p', 'm') or n.nspname in ('pg_catalog', 'information_schema'))
  limit 1;
  if found then
    return jsonb_build_object('doubt', format('%s is %s', odd.rel,
      case when odd.nspname in ('pg_catalog', 'information_schema') then 'a system catalog'
           when odd.relkind = 'v' then 'a view: its tables are not tracked'
           when odd.relkind = 'f' then 'a foreign table: its writes are not counted here'
           else format('a relation of kind %s', odd.relkind) end));
  end if;

  select string_agg(concat_ws(':', c.oid, c.relkind, c.relfilenode, c.xmin,
           pg_stat_get_tuples_inserted(c.oid), pg_stat_get_tuples_updated(c.oid),
           pg_stat_get_tuples_deleted(c.oid),
           case when c.relkind in ('r', 'm') then pg_relation_size(c.oid) end,
           (select string_agg(p.oid || '.' || p.xmin, ',' order by p.oid) from pg_policy p where p.polrelid = c.oid),
           (select string_agg(a.attnum || '.' || a.xmin, ',' order by a.attnum) from pg_attribute a
            where a.attrelid = c.oid and a.attnum > 0),
           (select n.xmin from pg_namespace n where n.oid = c.relnamespace)),
         ';' order by c.oid)
    into facts
  from pg_class c
  where c.oid = any(rels);
  return jsonb_build_object('fingerprint', md5(concat_ws('|', facts,
    (select string_agg(p.oid || '.' || p.xmin, ',' order by p.oid) from pg_proc p
     where p.proname = any(functions) and p.pronamespace <> 'pg_catalog'::regnamespace),
    -- (the function, not the pg_stat_database view, which computes every database's statistics)
    pg_stat_get_db_stat_reset_time((select d.oid from pg_database d where d.datname = current_database())),
    pg_postmaster_start_time())));
end
$$;

-- Why another session may hold committed writes it has not counted yet, or
-- NULL: a running statement that has committed inside itself (a procedure's
-- COMMIT) keeps those counts until it ends. Asked only before an unchanged
-- answer. SECURITY DEFINER: its owner, the role that ran the migration, must
-- see every session (a superuser or a member of pg_read_all_stats, as
-- Supabase's postgres is); the monitor role cannot, and learns only a reason.
create or replace function dq.uncounted_writes()
returns text
language plpgsql
stable
security definer
set search_path = pg_catalog
as $$
declare
  busy integer;
begin
  if not (select r.rolsuper from pg_roles r where r.rolname = current_user)
     and not pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') then
    return format('%I, which owns dq.uncounted_writes, cannot see other sessions (grant pg_read_all_stats to %I)',
      current_user, current_user);
  end if;
  select a.pid into busy
  from pg_stat_get_activity(null) a
  -- in this database: a procedure elsewhere writes none of its tables
  where a.datid = (select d.oid from pg_database d where d.datname = current_database())
    and a.state = 'active' and a.xact_start > a.query_start and a.pid <> pg_backend_pid()
  limit 1;
  if busy is not null then
    return format('session %s is running a statement that has committed inside itself (a procedure): its writes are counted only when it ends', busy);
  end if;
  return null;
end
$$;

-- The last full scan's result, as this run's answer (details.scope =
-- "unchanged"), when the check's latest result is that scan or an answer
-- from it, with the same definition, `fullEvery` has not passed since the
-- scan, the evidence of the relations it read (kept with it: its tables and
-- the functions it calls) is what the scan saw, and no session holds writes
-- it has not counted; { "doubt": why } when only the last stood in the way;
-- else NULL. The check's expressions are not analysed again: the same
-- definition reads the same relations, and what could change their meaning
-- (columns, grants, functions) is part of the evidence. Reads statistics,
-- the catalog and dq.results only: dq.run_check asks it before any of the
-- check's SQL text runs.
create or replace function dq.unchanged_answer(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  previous record;
  evidence jsonb;
  full_every interval := coalesce(
    dq.interval_value(coalesce(spec ->> 'fullEvery', spec #>> '{incremental,fullEvery}'), 'fullEvery'),
    interval '24 hours');
  doubt text;
begin
  select r.status, r.value, r.details, r.sample into previous
  from dq.results r
  where r.check_name = spec ->> 'name'
  order by r.id desc -- recording order: a client clock running ahead cannot pin it
  limit 1;
  if not found or previous.status = 'error'
     or coalesce(previous.details ->> 'scope', 'full') not in ('full', 'unchanged') then
    return null;
  end if;
  evidence := previous.details -> 'change_evidence';
  if jsonb_typeof(evidence -> 'tables') is distinct from 'array'
     or evidence ->> 'spec_hash' is distinct from dq.spec_hash(spec)
     -- The same slack as incremental runs: an hourly tick a few seconds early
     -- does not put the daily full scan off by an hour.
     or now() >= (evidence ->> 'scanned_at')::timestamptz + full_every - least(full_every / 20, interval '10 minutes')
     or dq.change_evidence(array(select jsonb_array_elements_text(evidence -> 'tables')),
                           array(select jsonb_array_elements_text(coalesce(evidence -> 'functions', '[]'))))
          ->> 'fingerprint' is distinct from evidence ->> 'fingerprint' then
    return null;
  end if;
  doubt := dq.uncounted_writes();
  if doubt is not null then
    return jsonb_build_object('doubt', doubt);
  end if;
  return jsonb_build_object('value', previous.value,
    'details', previous.details || jsonb_build_object('scope', 'unchanged'),
    'sample', previous.sample);
end
$$;

-- Measures a check with its kind's function (`doubt`: why it was not
-- answered unchanged, to record). VOLATILE on purpose: in READ COMMITTED
-- each statement here takes a new snapshot, so the scan's snapshot comes
-- after the evidence was read (see the top of this file). A full scan with evidence records it in
-- details.change_evidence { fingerprint, spec_hash, scanned_at, tables,
-- functions }; a check that must always scan says why in
-- details.change_evidence { doubt }. Only runs that ask ("scan": "changed":
-- cron ticks) are answered unchanged, and only they keep evidence: an ad hoc
-- run scans, and its result is as before.
create or replace function dq.measure(spec jsonb, measure text, doubt text default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  reads_function text;
  reads jsonb;
  evidence jsonb;
  result jsonb;
begin
  if dq.scan_guard() = 'false' or spec ->> 'scan' is distinct from 'changed' then
    -- dq validate --db plans the real queries; an ad hoc run scans, and keeps no evidence.
    execute format('select %s($1)', measure) into result using spec;
    return result;
  end if;

  -- What the scan reads, and the evidence of it, read before its snapshot.
  reads_function := dq.resolve_kind(spec, '_reads');
  if reads_function is null then
    evidence := jsonb_build_object('doubt', format('the %s kind reads more than its tables'' rows (the clock, history or the catalog)', spec ->> 'kind'));
  else
    execute format('select %s($1)', reads_function) into reads using spec;
    if reads ? 'doubt' then
      evidence := reads;
    else
      evidence := dq.change_evidence(array(select jsonb_array_elements_text(reads -> 'tables')),
                                     array(select jsonb_array_elements_text(reads -> 'functions')));
    end if;
  end if;

  execute format('select %s($1)', measure) into result using spec;

  if evidence ? 'fingerprint' and coalesce(result #>> '{details,scope}', 'full') = 'full' then
    -- The scan saw every write committed before it, counted or not: its evidence may count
    -- fewer, which only makes the next tick scan again.
    result := jsonb_set(result, '{details,change_evidence}', jsonb_strip_nulls(jsonb_build_object(
      'fingerprint', evidence ->> 'fingerprint', 'spec_hash', dq.spec_hash(spec), 'scanned_at', now(),
      'tables', reads -> 'tables', 'functions', reads -> 'functions', 'doubt', doubt)));
  elsif evidence ? 'doubt' then
    result := jsonb_set(result, '{details,change_evidence}', jsonb_build_object('doubt', evidence ->> 'doubt'));
  end if;
  return result;
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

-- What a duplicates check reads (27_unchanged.sql): its table, through columns, where and id.
create or replace function dq.kind_duplicates_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'id', spec ->> 'id')
                        || dq.array_fields(spec, 'columns'))
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

-- What a required_fields check reads (27_unchanged.sql): its table, through fields, where and id.
create or replace function dq.kind_required_fields_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'id', coalesce(spec ->> 'id', 'id'))
                        || dq.array_fields(spec, 'fields'))
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

-- What a rows check reads (27_unchanged.sql): its table, through where, scope and id.
create or replace function dq.kind_rows_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'scope', spec ->> 'scope',
                                         'id', coalesce(spec ->> 'id', 'id')))
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

-- What a stale_keys check reads (27_unchanged.sql): its table, through key, formula, id and where.
create or replace function dq.kind_stale_keys_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('key', spec ->> 'key', 'formula', spec ->> 'formula',
                                         'id', coalesce(spec ->> 'id', 'id'), 'where', spec ->> 'where'))
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
