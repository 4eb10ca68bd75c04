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
