-- dq-monitor: the dq schema and its history tables.
--
-- Idempotent: `dq migrate` applies every migration on each call, and
-- `supabase db push` applies it once; both end in the same state.

create schema if not exists dq;
comment on schema dq is 'dq-monitor: data-quality checks, their run history and alert state';

-- One row per run (cron tick, HTTP request or CLI invocation).
create table if not exists dq.runs (
  id uuid primary key,
  trigger text not null check (trigger in ('cron', 'http', 'cli')),
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  duration_ms integer not null check (duration_ms >= 0),
  -- cron expression + scheduled time: the same tick delivered twice records one run
  idempotency_key text unique,
  counts jsonb not null default '{}'::jsonb
);

-- One row per check result, in the result contract's shape.
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
  recorded_at timestamptz not null default now()
);

-- Serves both "history of one check" and "latest result per check"
-- (distinct on (check_name) ... order by check_name, started_at desc).
create index if not exists results_check_started_idx
  on dq.results (check_name, started_at desc, id desc);
create index if not exists results_run_idx on dq.results (run_id);
create index if not exists runs_started_idx on dq.runs (started_at desc);
