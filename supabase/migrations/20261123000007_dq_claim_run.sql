-- dq-monitor: a scheduled tick is claimed before its checks run.
--
-- The same cron tick delivered twice (or two triggers firing in the same
-- minute) must not run the checks twice: the two runs would collide on the
-- per-check lock and record "already running" errors. The Worker claims the
-- tick's idempotency key first (dq.claim_run) and runs only when it got it;
-- dq.record_run then completes the claimed row.

alter table dq.runs add column if not exists completed boolean not null default true;
comment on column dq.runs.completed is
  'false from dq.claim_run until dq.record_run stores the results (a run in progress, or one that died)';

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

-- As in 20261123000003, and it also completes a run claimed by dq.claim_run
-- (same id and key, not yet completed).
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

select dq.apply_grants();
