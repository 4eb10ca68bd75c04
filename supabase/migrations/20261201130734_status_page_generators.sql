-- dq-monitor migration "status_page_generators", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/50_status_page.sql =====

-- dq-monitor: what the status page reads (status/store.ts), one call per page,
-- the catalog's generators expanded inside it.
--
-- History reaches a page downsampled: each check's results are rolled up, as
-- they are recorded, into 6-hour buckets (dq.result_buckets), and a page reads
-- at most one point per bucket (fewer when it asks for fewer). A month of
-- hourly results is 120 points per check, and the overview of 200 checks
-- reads 24,000 small rows instead of 144,000 results.

-- The 6-hour bucket a result falls in (aligned on midnight UTC).
create or replace function dq.result_bucket(at timestamptz)
returns timestamptz
language sql
immutable
as $$
  select date_bin('6 hours', at, timestamptz '2000-01-01 00:00:00+00')
$$;

-- What one result contributes to its bucket. `figure` is what its threshold
-- compares: the value, or details.ratio when the threshold's metric is "ratio".
-- `ratio` is details.ratio whatever the metric; `band_*` is the anomaly band
-- (details.anomaly.expected = [low, high]) when the result reports one. Each
-- field is read only when it is a number, so no result can fail its recording.
create or replace view dq.result_points as
select r.id, r.check_name, r.started_at,
       dq.result_bucket(r.started_at) as bucket,
       case r.status when 'error' then 3 when 'fail' then 2 when 'warn' then 1 else 0 end::smallint
         as rank,
       case when r.threshold ->> 'metric' is distinct from 'ratio' then r.value::float8
            when jsonb_typeof(r.details -> 'ratio') = 'number' then (r.details ->> 'ratio')::float8
       end as figure,
       case when jsonb_typeof(r.details -> 'ratio') = 'number'
            then (r.details ->> 'ratio')::float8 end as ratio,
       case when jsonb_typeof(r.details #> '{anomaly,expected,0}') = 'number'
            then (r.details #>> '{anomaly,expected,0}')::float8 end as band_low,
       case when jsonb_typeof(r.details #> '{anomaly,expected,1}') = 'number'
            then (r.details #>> '{anomaly,expected,1}')::float8 end as band_high
from dq.results r;

create table if not exists dq.result_buckets (
  check_name text not null,
  -- start of the bucket: 6 hours, aligned on midnight UTC
  bucket timestamptz not null,
  results integer not null check (results > 0),
  last_at timestamptz not null,
  -- the worst status in the bucket: 0 pass, 1 warn, 2 fail, 3 error
  worst smallint not null check (worst between 0 and 3),
  figure_low double precision,
  figure_high double precision,
  ratio_low double precision,
  ratio_high double precision,
  band_low double precision,
  band_high double precision,
  primary key (check_name, bucket)
);
comment on table dq.result_buckets is
  'dq.results rolled up per check into 6-hour buckets for the status page (kept by triggers on dq.results)';

-- Adds these results to their buckets. Each field merges (counts add,
-- extremes widen), so concurrent runs recording the same bucket never lose one.
create or replace function dq.merge_result_buckets(result_ids bigint[])
returns void
language sql
volatile
as $$
  insert into dq.result_buckets as b (check_name, bucket, results, last_at, worst, figure_low,
                                      figure_high, ratio_low, ratio_high, band_low, band_high)
  select p.check_name, p.bucket, count(*), max(p.started_at), max(p.rank), min(p.figure),
         max(p.figure), min(p.ratio), max(p.ratio), min(p.band_low), max(p.band_high)
  from dq.result_points p
  where p.id = any (result_ids)
  group by p.check_name, p.bucket
  on conflict (check_name, bucket) do update
    set results = b.results + excluded.results,
        last_at = greatest(b.last_at, excluded.last_at),
        worst = greatest(b.worst, excluded.worst),
        figure_low = least(b.figure_low, excluded.figure_low),
        figure_high = greatest(b.figure_high, excluded.figure_high),
        ratio_low = least(b.ratio_low, excluded.ratio_low),
        ratio_high = greatest(b.ratio_high, excluded.ratio_high),
        band_low = least(b.band_low, excluded.band_low),
        band_high = greatest(b.band_high, excluded.band_high)
$$;

create or replace function dq.result_buckets_added()
returns trigger
language plpgsql
as $$
begin
  perform dq.merge_result_buckets(array(select a.id from added a));
  return null;
end
$$;

-- Deleted results (a run deleted, history pruned): their buckets are rebuilt
-- from the results that remain.
create or replace function dq.result_buckets_removed()
returns trigger
language plpgsql
as $$
begin
  if tg_op = 'TRUNCATE' then
    delete from dq.result_buckets;
    return null;
  end if;
  delete from dq.result_buckets b
  using (select distinct r.check_name, dq.result_bucket(r.started_at) as bucket from removed r) k
  where b.check_name = k.check_name and b.bucket = k.bucket;
  perform dq.merge_result_buckets(array(
    select r.id
    from (select distinct o.check_name, dq.result_bucket(o.started_at) as bucket from removed o) k
    join dq.results r on r.check_name = k.check_name
                     and r.started_at >= k.bucket and r.started_at < k.bucket + interval '6 hours'));
  return null;
end
$$;

create or replace trigger results_buckets_added
  after insert on dq.results referencing new table as added
  for each statement execute function dq.result_buckets_added();
create or replace trigger results_buckets_removed
  after delete on dq.results referencing old table as removed
  for each statement execute function dq.result_buckets_removed();
create or replace trigger results_buckets_truncated
  after truncate on dq.results
  for each statement execute function dq.result_buckets_removed();

-- The history recorded before the buckets existed (once: afterwards the triggers keep them).
select dq.merge_result_buckets(array(select r.id from dq.results r))
where not exists (select 1 from dq.result_buckets)
  and exists (select 1 from dq.results);

-- The grid of a window of the page: { start, step (seconds), points }. start is
-- the bucket `since` falls in (epoch seconds); step a whole number of buckets,
-- so that at most max_points points cover the window up to now.
create or replace function dq.status_grid(since timestamptz, max_points integer)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('start', g.start, 'step', g.step,
                            'points', ceil((date_part('epoch', now()) - g.start) / g.step)::integer)
  from (
    select s.start,
           21600 * greatest(ceil((date_part('epoch', now()) - s.start)
                                 / 21600.0 / greatest(least(coalesce(max_points, 120), 1000), 1)), 1)
             as step
    from (select date_part('epoch', dq.result_bucket(since)) as start) s
  ) g
$$;

-- Each check's series on the grid of (since, max_points), as columns:
-- { check: { i, hi, s, blo?, bhi?, lo?, n?, t? } }, a point per bucket with
-- results, in no particular order (i places it). i is the point's index on the grid; hi its largest
-- figure (with metric 'ratio', details.ratio whatever the threshold compares);
-- s its worst status (0 pass, 1 warn, 2 fail, 3 error: a failing result is
-- never hidden by a later pass); blo and bhi the widest anomaly band, only for
-- a check that reported one. With detail, also lo (the smallest figure), n
-- (results) and t (epoch seconds of the point's last result). JSON, not jsonb:
-- built as text, a page's thousands of numbers cost a fraction.
create or replace function dq.status_series(check_names text[], since timestamptz,
                                            max_points integer default 120,
                                            metric text default 'figure',
                                            detail boolean default false)
returns json
language plpgsql
stable
as $fn$
declare
  grid jsonb := dq.status_grid(since, max_points);
  series json;
begin
  -- Planned with this call's own values (EXECUTE), the points are grouped by
  -- hashing; a generic plan guesses a handful of rows and sorts them by name.
  execute $q$
    with points as (
      select b.check_name,
             floor((date_part('epoch', b.bucket) - $2) / $3)::integer as i,
             case when $4 = 'ratio' then min(b.ratio_low) else min(b.figure_low) end as lo,
             case when $4 = 'ratio' then max(b.ratio_high) else max(b.figure_high) end as hi,
             max(b.worst) as s, sum(b.results) as n, min(b.band_low) as blo,
             max(b.band_high) as bhi, floor(date_part('epoch', max(b.last_at)))::bigint as t
      from dq.result_buckets b
      where b.check_name = any ($1) and b.bucket >= to_timestamp($2)
      group by 1, 2
    )
    -- Columns without ORDER BY: a sort per check (three per check, in PostgreSQL 15)
    -- costs more than the page; each point carries its index, and the reader orders them.
    select coalesce(json_object_agg(c.check_name, c.series), '{}'::json)
    from (
      select p.check_name,
             case when not $5 and not bool_or(p.blo is not null or p.bhi is not null) then
               json_build_object('i', array_agg(p.i), 'hi', array_agg(p.hi), 's', array_agg(p.s))
             when not $5 then
               json_build_object('i', array_agg(p.i), 'hi', array_agg(p.hi), 's', array_agg(p.s),
                                 'blo', array_agg(p.blo), 'bhi', array_agg(p.bhi))
             else
               json_build_object('i', array_agg(p.i), 'hi', array_agg(p.hi), 's', array_agg(p.s),
                                 'blo', array_agg(p.blo), 'bhi', array_agg(p.bhi),
                                 'lo', array_agg(p.lo), 'n', array_agg(p.n), 't', array_agg(p.t))
             end as series
      from points p
      group by p.check_name
    ) c
  $q$
  into series
  using check_names, (grid ->> 'start')::float8, (grid ->> 'step')::float8, metric,
        coalesce(detail, false);
  return series;
end
$fn$;

-- The latest result of each named check, by name: one index probe per check
-- (dq.latest_results reads every result of the checks to find them).
create or replace function dq.status_latest(check_names text[])
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_object_agg(n.check_name, dq.result_json(l)), '{}'::jsonb)
  from (select distinct unnest(check_names) as check_name) n
  cross join lateral (
    select * from dq.results r
    where r.check_name = n.check_name
    order by r.started_at desc, r.id desc
    limit 1
  ) l
$$;

-- Alert state that is not passing, oldest incident first: the named checks'
-- (all when null) and the monitor's own ("dq-monitor/stale").
create or replace function dq.open_incidents(check_names text[] default null)
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_agg(dq.alert_state_json(s)
                            order by s.opened_at nulls last, s.dedup_key), '[]'::jsonb)
  from dq.alert_state s
  where s.status in ('warn', 'fail', 'error')
    and (check_names is null or s.check_name is null or s.check_name = any (check_names))
$$;

-- The catalog's generators, expanded for a page inside its one call: for each
-- { id: generate } (the catalog entry's `generate`, keyed by the generator's
-- id), dq.expand_generator's answer as { checks: [...] }, or { error, sqlstate }
-- when it could not expand at all (its `from` is missing, too many rows): that
-- generator is then one check in error, named by its id (checks/generate.ts).
create or replace function dq.status_expansions(generators jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  generator record;
  expanded jsonb := '{}'::jsonb;
begin
  -- None: SQL NULL, or JSON null (as the Supabase API may send it).
  if coalesce(jsonb_typeof(generators), 'null') = 'null' then
    return expanded;
  end if;
  if jsonb_typeof(generators) <> 'object' then
    raise exception using errcode = '22023',
      message = 'generators must be an object { generator id: generate }';
  end if;
  for generator in select g.key, g.value from jsonb_each(generators) g loop
    begin
      expanded := expanded || jsonb_build_object(generator.key,
        jsonb_build_object('checks', dq.expand_generator(generator.value)));
    exception when others then
      expanded := expanded || jsonb_build_object(generator.key,
        jsonb_build_object('error', sqlerrm, 'sqlstate', sqlstate));
    end;
  end loop;
  return expanded;
end
$$;

-- The names of the checks an expansion makes: one per row, or the generator's
-- id when it could not expand.
create or replace function dq.status_generated_names(expanded jsonb)
returns text[]
language sql
immutable
as $$
  select coalesce(array_agg(n.name), '{}'::text[])
  from jsonb_each(expanded) e
  cross join lateral (
    select c ->> 'name' as name
    from jsonb_array_elements(case when jsonb_typeof(e.value -> 'checks') = 'array'
                                   then e.value -> 'checks' else '[]'::jsonb end) c
    union all
    select e.key where e.value ? 'error'
  ) n
$$;

-- A list of checks: { now, grid, latest: { check: result }, series: { check: ... } }.
create or replace function dq.status_list(check_names text[], since timestamptz,
                                          max_points integer default 120,
                                          metric text default 'figure')
returns json
language sql
stable
as $$
  select json_build_object(
    'now', now(),
    'grid', dq.status_grid(since, max_points),
    'latest', dq.status_latest(check_names),
    'series', dq.status_series(check_names, since, max_points, metric))
$$;

-- Before each page's call took the catalog's generators (and the page made one
-- more call per generator to expand them). The pages' functions below have no
-- defaults (status/store.ts passes every argument): "dq migrate" runs the older
-- migrations again first, and their dq.status_overview calls the old
-- dq.status_checks with three arguments, which a defaulted new one would make
-- ambiguous.
drop function if exists dq.status_checks(text[], timestamptz, integer, text);
drop function if exists dq.status_overview(text[], timestamptz, integer);
drop function if exists dq.status_check(text, timestamptz, integer, integer);

-- The coverage-by-workflow page (metric 'ratio'): what dq.status_list gives
-- (built here, not through it: its JSON stays text) for the named checks and
-- those the generators make, and `generated`, the generators' expansions
-- (dq.status_expansions).
create or replace function dq.status_checks(check_names text[], since timestamptz,
                                            max_points integer, metric text,
                                            generators jsonb)
returns json
language sql
stable
as $$
  select json_build_object(
    'now', now(),
    'grid', dq.status_grid(since, max_points),
    'latest', dq.status_latest(n.names),
    'series', dq.status_series(n.names, since, max_points, metric),
    'generated', n.generated)
  from (
    select x.generated, check_names || dq.status_generated_names(x.generated) as names
    from (select dq.status_expansions(generators) as generated) x
  ) n
$$;

-- The overview: { checks: what dq.status_list gives, incidents: the open ones,
-- monitor: the scheduled monitor's heartbeat, generated: the generators'
-- expansions }, for the named checks and those the generators make.
create or replace function dq.status_overview(check_names text[], since timestamptz,
                                              max_points integer, generators jsonb)
returns json
language sql
stable
as $$
  select json_build_object(
    'checks', dq.status_list(n.names, since, max_points),
    'incidents', dq.open_incidents(n.names),
    'monitor', dq.monitor_status(),
    'generated', n.generated)
  from (
    select x.generated, check_names || dq.status_generated_names(x.generated) as names
    from (select dq.status_expansions(generators) as generated) x
  ) n
$$;

-- One check's page: { now, grid, latest, series (with detail), recent: its last
-- results, newest first (dq.check_history), alerts: its alert state rows,
-- generated: the generators' expansions, so the page knows a generated check }.
create or replace function dq.status_check(check_name text, since timestamptz,
                                           max_points integer, max_results integer,
                                           generators jsonb)
returns json
language sql
stable
as $$
  select json_build_object(
    'now', now(),
    'grid', dq.status_grid(since, max_points),
    'latest', dq.status_latest(array[status_check.check_name]) -> status_check.check_name,
    'series', dq.status_series(array[status_check.check_name], since, max_points, 'figure', true)
                -> status_check.check_name,
    'recent', dq.check_history(status_check.check_name, max_results),
    'alerts', (select coalesce(jsonb_agg(dq.alert_state_json(s) order by s.dedup_key), '[]'::jsonb)
               from dq.alert_state s where s.check_name = status_check.check_name),
    'generated', dq.status_expansions(generators))
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
