-- dq-monitor: recording runs, reading history, and who may call what.

-- Records a run and its results (the result contract's JSON). With an
-- idempotency_key already recorded (the same cron tick delivered twice) it
-- records nothing and says so.
create or replace function dq.record_run(run jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  recorded uuid;
begin
  insert into dq.runs (id, trigger, started_at, duration_ms, idempotency_key, counts)
  values (
    (run ->> 'run_id')::uuid,
    run ->> 'trigger',
    (run ->> 'started_at')::timestamptz,
    (run ->> 'duration_ms')::integer,
    run ->> 'idempotency_key',
    coalesce((
      select jsonb_object_agg(status, n)
      from (select r ->> 'status' as status, count(*) as n
            from jsonb_array_elements(run -> 'results') r group by 1) c
    ), '{}'::jsonb))
  on conflict (idempotency_key) do nothing
  returning id into recorded;

  if recorded is null then
    return jsonb_build_object('recorded', false, 'run_id', null);
  end if;

  insert into dq.results (run_id, check_name, kind, status, value, threshold, details, sample,
                          error, duration_ms, trigger, started_at)
  select recorded, r ->> 'check', r ->> 'kind', r ->> 'status', (r ->> 'value')::numeric,
         coalesce(r -> 'threshold', '{}'::jsonb), coalesce(r -> 'details', '{}'::jsonb),
         coalesce(r -> 'sample', '[]'::jsonb), r ->> 'error',
         coalesce((r ->> 'duration_ms')::integer, 0), run ->> 'trigger', (run ->> 'started_at')::timestamptz
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
    'check', r.check_name, 'kind', r.kind, 'status', r.status, 'value', r.value,
    'threshold', r.threshold, 'details', r.details, 'sample', r.sample,
    'duration_ms', r.duration_ms, 'error', r.error,
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

-- Grants. Nothing in dq is for PUBLIC, anon or authenticated. service_role
-- (Supabase) and dq_monitor (grant it to the login a direct connection uses)
-- may run checks and read and write history.
do $$
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
  alter default privileges in schema dq revoke execute on functions from public;

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
    end if;
  end loop;
end
$$;
